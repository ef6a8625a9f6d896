import type { Request } from 'express';
import { saveProfile } from '../account/profile-store.js';
import type { AppDeps } from '../deps.js';
import { AppError } from '../http/errors.js';
import { KratosHttpError } from '../kratos/client.js';
import { establishGatewaySession } from '../session/sessions.js';
import { loginWithPassword, normalizeIdentifier } from './password-login.js';

const DUPLICATE = 4000007;
const PASSWORD_POLICY = [4000005, 4000031, 4000032, 4000033, 4000034];

export interface RegistrationInput {
  email: string;
  password?: string | undefined;
  traits?: Record<string, unknown> | undefined;
}

const identityExists = () =>
  new AppError('identity_exists', 409, 'An account with this e-mail address exists already.');

/** Maps Kratos' registration refusals to clear answers. */
function registrationError(err: KratosHttpError): AppError {
  const ids = err.messageIds();
  if (ids.includes(DUPLICATE)) return identityExists();
  if (ids.some((id) => PASSWORD_POLICY.includes(id)))
    return new AppError('weak_password', 400, err.firstMessage() ?? 'This password cannot be used.');
  return new AppError('invalid_registration', 400, err.firstMessage() ?? 'The registration was refused.');
}

/**
 * Creates the identity in Kratos and signs the new user in. With a password it runs a
 * Kratos registration flow; without one (passwordless) the identity is created through
 * the admin API and the session may do nothing but register its first passkey.
 */
export async function register(deps: AppDeps, req: Request, input: RegistrationInput): Promise<void> {
  const traits = { ...input.traits, email: normalizeIdentifier(input.email) };
  const event = { ip: req.ip, requestId: req.requestId };
  if (!input.password) {
    // The admin API runs no registration hook: give the default role and sync the profile here,
    // as the after-registration hook does for password sign-ups. Kratos itself refuses a taken
    // address (409), so there is no look-up first to race with.
    const identity = await deps.kratos
      .createIdentity({ traits, metadataPublic: { roles: [deps.config.DEFAULT_ROLE] } })
      .catch((err: unknown) => {
        if (err instanceof KratosHttpError && err.status === 409) throw identityExists();
        throw err;
      });
    await saveProfile(deps.db, {
      identityId: identity.id,
      email: identity.email,
      emailVerified: identity.emailVerified,
      traits: identity.traits,
    });
    await establishGatewaySession(deps, req, {
      identityId: identity.id,
      kind: 'registration',
      methods: [],
      passkeyEnrollmentRequired: true,
    });
    await deps.audit.record({
      type: 'registration',
      outcome: 'success',
      identityId: identity.id,
      ...event,
      details: { method: 'passkey' },
    });
    return;
  }
  let result;
  try {
    result = await deps.kratos.registerWithPassword(traits, input.password);
  } catch (err) {
    if (err instanceof KratosHttpError && err.status === 400) {
      await deps.audit.record({
        type: 'registration',
        outcome: 'failure',
        ...event,
        details: { method: 'password' },
      });
      throw registrationError(err);
    }
    throw err;
  }
  await deps.audit.record({
    type: 'registration',
    outcome: 'success',
    identityId: result.identity.id,
    ...event,
    details: { method: 'password' },
  });
  if (result.sessionToken && result.session) {
    await establishGatewaySession(deps, req, {
      identityId: result.identity.id,
      kind: 'password',
      kratosToken: result.sessionToken,
      kratosSessionId: result.session.id,
      methods: [],
    });
    return;
  }
  // Kratos without the session hook after registration: sign in with the new password.
  await loginWithPassword(deps, req, { identifier: traits.email, password: input.password });
}
