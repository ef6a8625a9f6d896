// Body of the after-login web hook sent to the gateway (POST /hooks/kratos/after-login).
// Kratos evaluates it with ctx = { identity, flow, request_headers, ... }; only the
// identity and the flow reference leave Kratos, never request headers or cookies.
function(ctx) {
  identity: ctx.identity,
  flow_id: ctx.flow.id,
  flow_type: ctx.flow.type,
  event: 'after-login',
  // The session exists once the login is complete; its AAL tells the gateway whether a
  // second factor was used.
  session: if std.objectHas(ctx, 'session') && ctx.session != null then {
    id: ctx.session.id,
    aal: ctx.session.authenticator_assurance_level,
  } else null,
}
