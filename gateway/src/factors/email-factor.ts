import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../config.js';
import type { Queryable } from '../db/database.js';
import { AppError } from '../errors/app-error.js';
import type { Logger } from '../logging/logger.js';
import type { Mailer } from '../mail/mailer.js';
import type { Kv } from '../redis/client.js';
import type { SmsSender } from '../mail/sms-sender.js';

/**
 * How a factor's codes travel: e-mailed to the account's address (EMAIL_CODE_MFA), or texted
 * to its phone number (SMS_CODE_MFA). Both are kept by the gateway the same way.
 */
export type CodeChannel = 'email' | 'sms';

/** The queries of each channel's table: who turned the factor on, for which proven address or number. */
const QUERIES = {
  email: {
    addressOf: 'SELECT address FROM email_factors WHERE identity_id = $1',
    enable: `INSERT INTO email_factors (identity_id, address, enabled_at) VALUES ($1, $2, $3)
         ON CONFLICT (identity_id) DO UPDATE SET address = EXCLUDED.address, enabled_at = EXCLUDED.enabled_at`,
    disable: 'DELETE FROM email_factors WHERE identity_id = $1 RETURNING identity_id',
  },
  sms: {
    addressOf: 'SELECT address FROM sms_factors WHERE identity_id = $1',
    enable: `INSERT INTO sms_factors (identity_id, address, enabled_at) VALUES ($1, $2, $3)
         ON CONFLICT (identity_id) DO UPDATE SET address = EXCLUDED.address, enabled_at = EXCLUDED.enabled_at`,
    disable: 'DELETE FROM sms_factors WHERE identity_id = $1 RETURNING identity_id',
  },
} as const;

/**
 * Codes as an opt-in second factor (EMAIL_CODE_MFA, SMS_CODE_MFA), kept by the gateway: the one
 * owner of the `email_factors` and `sms_factors` tables (who turned it on, for which proven
 * address or phone number) and of the codes it sends (hashed in Redis, bound to one gateway
 * session, single use).
 */
export function createEmailFactorStore(db: Queryable, options: { enabled: boolean; channel?: CodeChannel }) {
  const queries = QUERIES[options.channel ?? 'email'];
  return {
    /** Whether the deployment offers the factor at all (EMAIL_CODE_MFA, SMS_CODE_MFA). */
    enabled: options.enabled,

    /**
     * The address the owner proved when turning the factor on; undefined when it is off for
     * the account, or when the deployment does not offer it (then it counts for no one).
     */
    async addressOf(identityId: string): Promise<string | undefined> {
      if (!options.enabled) return undefined;
      const { rows } = await db.query<{ address: string }>(queries.addressOf, [identityId]);
      return rows[0]?.address;
    },

    /** Turns the factor on (again) for `address`. */
    async enable(identityId: string, address: string, at: Date): Promise<void> {
      await db.query(queries.enable, [identityId, address, at.toISOString()]);
    },

    /** Turns the factor off; answers whether it was on. */
    async disable(identityId: string): Promise<boolean> {
      const { rows } = await db.query<{ identity_id: string }>(queries.disable, [identityId]);
      return rows.length > 0;
    },
  };
}

export type EmailFactorStore = ReturnType<typeof createEmailFactorStore>;

/** Addresses compare as Kratos keeps them: trimmed, lower case. */
export const sameAddress = (a: string | undefined, b: string | undefined) =>
  a !== undefined && b !== undefined && a.trim().toLowerCase() === b.trim().toLowerCase();

/** 404 `method_disabled` while the deployment does not offer the factor. */
export function assertEmailFactorOffered(deps: { emailFactors: Pick<EmailFactorStore, 'enabled'> }) {
  if (!deps.emailFactors.enabled)
    throw new AppError('method_disabled', 404, 'E-mailed codes as a second factor are not enabled here.');
}

/** The answer of the routes that mail a code. */
export const EMAIL_CODE_SENT = {
  status: 'code_sent',
  message: 'A code is on its way to your address.',
} as const;

/** The answer of the routes that text a code. */
export const SMS_CODE_SENT = {
  status: 'code_sent',
  message: 'A code is on its way to your phone.',
} as const;

/** The answers, as the OpenAPI document describes them. */
export const emailCodeSent = z
  .object({ status: z.literal('code_sent'), message: z.string() })
  .meta({ id: 'EmailCodeSent', description: 'A 6-digit code was mailed to the account’s address.' });
export const smsCodeSent = z
  .object({ status: z.literal('code_sent'), message: z.string() })
  .meta({ id: 'SmsCodeSent', description: 'A 6-digit code was texted to the account’s phone number.' });
export const emailFactorState = z
  .object({
    enabled: z.boolean().meta({ description: 'On, for the account’s current, verified address.' }),
    address: z.string().meta({ description: 'Where the codes go.' }),
    addressVerified: z.boolean().meta({ description: 'Only a verified address may turn the factor on.' }),
  })
  .meta({ id: 'EmailFactorStatus' });

/** 404 `method_disabled` while the deployment does not offer texted codes as a second factor. */
export function assertSmsFactorOffered(deps: { smsFactors?: Pick<EmailFactorStore, 'enabled'> | undefined }) {
  if (!deps.smsFactors?.enabled)
    throw new AppError('method_disabled', 404, 'Texted codes as a second factor are not enabled here.');
}

/** What a code is for: turning the factor on, or stepping up with it. */
type EmailCodePurpose = 'enrol' | 'step-up';

/** A code lives this long. */
const EMAIL_CODE_TTL_SECONDS = 300;
/** This many wrong tries burn a code. */
const EMAIL_CODE_MAX_WRONG = 3;

/** What the e-mailed codes use. */
export interface EmailCodeDeps {
  kv: Kv;
  config: Pick<Config, 'SESSION_SECRET'>;
  clock: () => Date;
  logger: Logger;
  mailer?: Mailer | undefined;
  /** Sends the texted codes (SMS_PROVIDER_URL). */
  smsSender?: SmsSender | undefined;
}

interface PendingCode {
  /** HMAC of the code, keyed by the session secret and bound to the purpose and session. */
  mac: string;
  identityId: string;
  address: string;
  wrong: number;
  expiresAt: number;
}

const codeKey = (channel: CodeChannel, purpose: EmailCodePurpose, sessionHandle: string) =>
  `${channel}-code:${purpose}:${sessionHandle}`;

function codeMac(
  deps: EmailCodeDeps,
  channel: CodeChannel,
  purpose: EmailCodePurpose,
  sessionHandle: string,
  code: string,
) {
  return createHmac('sha256', deps.config.SESSION_SECRET)
    .update(`${channel}-code\0${purpose}\0${sessionHandle}\0${code}`)
    .digest();
}

const SUBJECTS: Record<EmailCodePurpose, string> = {
  enrol: 'Your code to turn on e-mail codes',
  'step-up': 'Your sign-in confirmation code',
};

function mailText(purpose: EmailCodePurpose, code: string): string {
  const minutes = EMAIL_CODE_TTL_SECONDS / 60;
  const what =
    purpose === 'enrol'
      ? 'Your code to turn on e-mailed codes as a second factor'
      : 'Your code to confirm it is you';
  return [
    `${what}: ${code}`,
    '',
    `It is valid for ${minutes} minutes and works once.`,
    'If you did not ask for it, someone may know your password: change it, and do not share this code.',
  ].join('\n');
}

/** The text of a texted code: short, the code first (phones show it in the notification). */
function smsText(purpose: EmailCodePurpose, code: string): string {
  const what = purpose === 'enrol' ? 'turn on texted codes' : 'confirm it is you';
  return `${code} is your code to ${what}. It is valid for ${EMAIL_CODE_TTL_SECONDS / 60} minutes. Do not share it.`;
}

/** Delivers the code by its channel; throws when the mail server or the SMS provider fails. */
async function deliver(
  deps: EmailCodeDeps,
  channel: CodeChannel,
  purpose: EmailCodePurpose,
  address: string,
  code: string,
) {
  if (channel === 'sms') {
    if (!deps.smsSender) throw new Error('no SMS provider');
    await deps.smsSender.send({ to: address, body: smsText(purpose, code) });
    return;
  }
  if (!deps.mailer) throw new Error('no mail server');
  await deps.mailer.send({ to: address, subject: SUBJECTS[purpose], text: mailText(purpose, code) });
}

/**
 * Sends a fresh 6-digit code to `address` (mailed) or to the phone number (texted, `channel`
 * sms) for this session and `purpose`; a code asked for before (same session, channel and
 * purpose) no longer works. Only its HMAC is kept, in Redis, for EMAIL_CODE_TTL_SECONDS. A mail
 * server or SMS provider that refuses or is unreachable is a 503 that names it.
 */
export async function sendEmailCode(
  deps: EmailCodeDeps,
  purpose: EmailCodePurpose,
  sessionHandle: string,
  target: { identityId: string; address: string },
  channel: CodeChannel = 'email',
): Promise<void> {
  const code = randomInt(0, 1_000_000).toString().padStart(6, '0');
  const pending: PendingCode = {
    mac: codeMac(deps, channel, purpose, sessionHandle, code).toString('base64url'),
    identityId: target.identityId,
    address: target.address,
    wrong: 0,
    expiresAt: deps.clock().getTime() + EMAIL_CODE_TTL_SECONDS * 1000,
  };
  const key = codeKey(channel, purpose, sessionHandle);
  await deps.kv.set(key, JSON.stringify(pending), EMAIL_CODE_TTL_SECONDS);
  try {
    await deliver(deps, channel, purpose, target.address, code);
  } catch (err) {
    await deps.kv.del(key);
    deps.logger.warn(`${channel === 'sms' ? 'texted' : 'e-mail'} code not sent`, {
      purpose,
      error: (err as Error).message,
    });
    throw channel === 'sms' ? smsUnavailable() : mailUnavailable();
  }
}

const mailUnavailable = () =>
  new AppError('mail_unavailable', 503, 'The e-mail with your code could not be sent. Try again later.');
const smsUnavailable = () =>
  new AppError(
    'sms_unavailable',
    503,
    'The SMS provider did not take the text with your code. Try again later.',
  );

/**
 * Takes the code out of Redis (GETDEL: a replayed or raced code finds nothing) and compares
 * it in constant time. A wrong code puts the entry back with one more wrong try, until
 * EMAIL_CODE_MAX_WRONG of them burn it. Answers where the code was sent, or undefined for a
 * wrong, used, burnt, expired or never-sent code, or one sent for another identity.
 */
export async function consumeEmailCode(
  deps: EmailCodeDeps,
  purpose: EmailCodePurpose,
  sessionHandle: string,
  identityId: string,
  code: string,
  channel: CodeChannel = 'email',
): Promise<{ address: string } | undefined> {
  const key = codeKey(channel, purpose, sessionHandle);
  const raw = await deps.kv.getDel(key);
  if (!raw) return undefined;
  const pending = JSON.parse(raw) as PendingCode;
  const now = deps.clock().getTime();
  if (pending.identityId !== identityId || pending.expiresAt <= now) return undefined;
  const expected = Buffer.from(pending.mac, 'base64url');
  const given = codeMac(deps, channel, purpose, sessionHandle, code);
  if (expected.length === given.length && timingSafeEqual(expected, given))
    return { address: pending.address };
  const wrong = pending.wrong + 1;
  if (wrong < EMAIL_CODE_MAX_WRONG) {
    const left = Math.ceil((pending.expiresAt - now) / 1000);
    await deps.kv.set(key, JSON.stringify({ ...pending, wrong }), Math.max(1, left));
  }
  return undefined;
}

/** 400 `invalid_code`: the answer for wrong, used and expired codes, as for recovery codes. */
export const invalidEmailCode = () =>
  new AppError('invalid_code', 400, 'The code is wrong, was used already or has expired.');
