import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../config.js';
import type { Queryable } from '../db/database.js';
import { AppError } from '../errors/app-error.js';
import type { Logger } from '../logging/logger.js';
import type { Mailer } from '../mail/mailer.js';
import type { Kv } from '../redis/client.js';

/**
 * E-mailed codes as an opt-in second factor (EMAIL_CODE_MFA), kept by the gateway: the one
 * owner of the `email_factors` table (who turned it on, for which proven address) and of the
 * codes it mails (hashed in Redis, bound to one gateway session, single use).
 */
export function createEmailFactorStore(db: Queryable, options: { enabled: boolean }) {
  return {
    /** Whether the deployment offers the factor at all (EMAIL_CODE_MFA). */
    enabled: options.enabled,

    /**
     * The address the owner proved when turning the factor on; undefined when it is off for
     * the account, or when the deployment does not offer it (then it counts for no one).
     */
    async addressOf(identityId: string): Promise<string | undefined> {
      if (!options.enabled) return undefined;
      const { rows } = await db.query<{ address: string }>(
        'SELECT address FROM email_factors WHERE identity_id = $1',
        [identityId],
      );
      return rows[0]?.address;
    },

    /** Turns the factor on (again) for `address`. */
    async enable(identityId: string, address: string, at: Date): Promise<void> {
      await db.query(
        `INSERT INTO email_factors (identity_id, address, enabled_at) VALUES ($1, $2, $3)
         ON CONFLICT (identity_id) DO UPDATE SET address = EXCLUDED.address, enabled_at = EXCLUDED.enabled_at`,
        [identityId, address, at.toISOString()],
      );
    },

    /** Turns the factor off; answers whether it was on. */
    async disable(identityId: string): Promise<boolean> {
      const { rows } = await db.query<{ identity_id: string }>(
        'DELETE FROM email_factors WHERE identity_id = $1 RETURNING identity_id',
        [identityId],
      );
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

/** The answers, as the OpenAPI document describes them. */
export const emailCodeSent = z
  .object({ status: z.literal('code_sent'), message: z.string() })
  .meta({ id: 'EmailCodeSent', description: 'A 6-digit code was mailed to the account’s address.' });
export const emailFactorState = z
  .object({
    enabled: z.boolean().meta({ description: 'On, for the account’s current, verified address.' }),
    address: z.string().meta({ description: 'Where the codes go.' }),
    addressVerified: z.boolean().meta({ description: 'Only a verified address may turn the factor on.' }),
  })
  .meta({ id: 'EmailFactorStatus' });

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
}

interface PendingCode {
  /** HMAC of the code, keyed by the session secret and bound to the purpose and session. */
  mac: string;
  identityId: string;
  address: string;
  wrong: number;
  expiresAt: number;
}

const codeKey = (purpose: EmailCodePurpose, sessionHandle: string) =>
  `email-code:${purpose}:${sessionHandle}`;

function codeMac(deps: EmailCodeDeps, purpose: EmailCodePurpose, sessionHandle: string, code: string) {
  return createHmac('sha256', deps.config.SESSION_SECRET)
    .update(`email-code\0${purpose}\0${sessionHandle}\0${code}`)
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

/**
 * Mails a fresh 6-digit code to `address` for this session and `purpose`; a code asked for
 * before (same session, same purpose) no longer works. Only its HMAC is kept, in Redis, for
 * EMAIL_CODE_TTL_SECONDS. A mail server that refuses or is unreachable is a 503.
 */
export async function sendEmailCode(
  deps: EmailCodeDeps,
  purpose: EmailCodePurpose,
  sessionHandle: string,
  target: { identityId: string; address: string },
): Promise<void> {
  const code = randomInt(0, 1_000_000).toString().padStart(6, '0');
  const pending: PendingCode = {
    mac: codeMac(deps, purpose, sessionHandle, code).toString('base64url'),
    identityId: target.identityId,
    address: target.address,
    wrong: 0,
    expiresAt: deps.clock().getTime() + EMAIL_CODE_TTL_SECONDS * 1000,
  };
  await deps.kv.set(codeKey(purpose, sessionHandle), JSON.stringify(pending), EMAIL_CODE_TTL_SECONDS);
  if (!deps.mailer) throw mailUnavailable();
  try {
    await deps.mailer.send({ to: target.address, subject: SUBJECTS[purpose], text: mailText(purpose, code) });
  } catch (err) {
    await deps.kv.del(codeKey(purpose, sessionHandle));
    deps.logger.warn('e-mail code not sent', { purpose, error: (err as Error).message });
    throw mailUnavailable();
  }
}

const mailUnavailable = () =>
  new AppError('mail_unavailable', 503, 'The e-mail with your code could not be sent. Try again later.');

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
): Promise<{ address: string } | undefined> {
  const key = codeKey(purpose, sessionHandle);
  const raw = await deps.kv.getDel(key);
  if (!raw) return undefined;
  const pending = JSON.parse(raw) as PendingCode;
  const now = deps.clock().getTime();
  if (pending.identityId !== identityId || pending.expiresAt <= now) return undefined;
  const expected = Buffer.from(pending.mac, 'base64url');
  const given = codeMac(deps, purpose, sessionHandle, code);
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
