// Body of the registration-defaults web hook sent to the gateway (POST /hooks/kratos/registration-defaults).
// Kratos calls it before the identity is stored (response.parse), so identity.id is the nil UUID.
// Kratos evaluates it with ctx = { identity, flow, request_headers, ... }; only the
// identity and the flow reference leave Kratos, never request headers or cookies.
function(ctx) {
  identity: ctx.identity,
  flow_id: ctx.flow.id,
  flow_type: ctx.flow.type,
  event: 'registration-defaults',
}
