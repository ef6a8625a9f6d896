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

/** Queues an email the way Kratos' courier does; tests read it through /admin/courier/messages. */
export function sendCode(
  ctx: DoubleContext,
  templateType: CourierMessage['templateType'],
  recipient: string,
  code: string,
): void {
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
    type: 'email',
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
