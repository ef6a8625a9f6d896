// The body Kratos' courier posts to the SMS provider (courier.channels, id sms, in kratos.yml):
// the phone number in E.164 and the rendered text ("Your login code is: 123456"). The gateway
// posts its own codes (SMS codes as a second factor) to the same endpoint in the same shape.
// For a provider with another API, change this file and the channel's headers (see
// docs/operator-guide.md, "SMS codes").
function(ctx) {
  to: ctx.recipient,
  body: ctx.body,
}
