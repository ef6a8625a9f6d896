import type { DoubleContext } from './context.js';
import { iso, newId, type CourierMessage } from './state.js';

const SUBJECTS: Record<CourierMessage['templateType'], string> = {
  recovery_code_valid: 'Recover access to your account',
  recovery_code_invalid: 'Account access attempted',
  verification_code_valid: 'Please verify your email address',
  verification_code_invalid: 'Someone tried to verify this email address',
  login_code_valid: 'Login to your account',
};

const BODIES: Partial<Record<CourierMessage['templateType'], string>> = {
  recovery_code_valid: 'please recover access to your account by entering the following code',
  login_code_valid: 'please login to your account by entering the following code',
};

/** Kratos v1.3.1's SMS templates (courier/template/courier/builtin/templates, sms.body.gotmpl). */
const SMS_BODIES: Partial<Record<CourierMessage['templateType'], string>> = {
  login_code_valid: 'Your login code is: ',
  verification_code_valid: 'Your verification code is: ',
};

/**
 * Queues a message the way Kratos' courier does; tests read it through /admin/courier/messages.
 * A code for a phone trait (`via: sms`) is a text, posted like Kratos' http `sms` channel
 * (kratos/courier/sms.jsonnet) to the configured endpoint; a delivery failure is the
 * courier's, never the flow's.
 */
export function sendCode(
  ctx: DoubleContext,
  templateType: CourierMessage['templateType'],
  recipient: string,
  code: string,
  via: 'email' | 'sms' = 'email',
): void {
  if (via === 'sms') {
    const prefix = SMS_BODIES[templateType];
    if (prefix === undefined) return;
    const text = `${prefix}${code}\n`;
    ctx.state.courier.push({
      id: newId(),
      recipient,
      subject: '',
      body: text,
      templateType,
      type: 'sms',
      createdAt: ctx.now(),
    });
    const channel = ctx.sms;
    if (channel) {
      void fetch(channel.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${channel.apiKey}` },
        body: JSON.stringify({ to: recipient, body: text }),
      }).then(
        (res) => res.body?.cancel(),
        () => undefined,
      );
    }
    return;
  }
  const intro = BODIES[templateType] ?? 'please verify your account by entering the following code';
  const body = `Hi,\n\n${intro}:\n\n${code}\n`;
  ctx.state.courier.push({
    id: newId(),
    recipient,
    subject: SUBJECTS[templateType],
    body,
    templateType,
    createdAt: ctx.now(),
  });
}

/** The message as the admin courier API returns it. Messages count as sent once queued. */
export function messageJson(message: CourierMessage): Record<string, unknown> {
  return {
    id: message.id,
    status: 'sent',
    type: message.type ?? 'email',
    ...(message.type === 'sms' && { channel: 'sms' }),
    recipient: message.recipient,
    body: message.body,
    subject: message.subject,
    template_type: message.templateType,
    send_count: 1,
    created_at: iso(message.createdAt),
    updated_at: iso(message.createdAt),
    dispatches: [],
  };
}
