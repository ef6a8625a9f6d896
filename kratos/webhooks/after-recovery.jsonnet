// Body of the after-recovery web hook sent to the gateway (POST /hooks/kratos/after-recovery).
// Kratos evaluates it with ctx = { identity, flow, request_headers, ... }; only the
// identity and the flow reference leave Kratos, never request headers or cookies.
function(ctx) {
  identity: ctx.identity,
  flow_id: ctx.flow.id,
  flow_type: ctx.flow.type,
  event: 'after-recovery',
}
