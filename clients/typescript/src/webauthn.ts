import {
  browserSupportsWebAuthn,
  browserSupportsWebAuthnAutofill,
  startAuthentication,
  startRegistration,
  WebAuthnAbortService,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/browser';
import type { GatewayClient } from './client.js';
import { fail, type GatewayError, type Result } from './errors.js';
import type { components } from './schema.js';

export type Session = components['schemas']['Session'];
type RequestOptions = components['schemas']['PasskeyRequestOptions'];

/** What the browser said when a ceremony did not complete, in words. */
function ceremonyError(thrown: unknown): GatewayError {
  const name = thrown instanceof Error ? thrown.name : 'Error';
  const code = (thrown as { code?: string }).code;
  if (name === 'AbortError' || code === 'ERROR_CEREMONY_ABORTED')
    return { kind: 'webauthn', name: 'AbortError', message: 'The passkey request was cancelled.' };
  if (name === 'NotAllowedError')
    return {
      kind: 'webauthn',
      name,
      message: 'The passkey request was dismissed or timed out. Try again when you are ready.',
    };
  if (name === 'InvalidStateError' || code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED')
    return { kind: 'webauthn', name, message: 'This device already holds a passkey for your account.' };
  if (name === 'SecurityError')
    return { kind: 'webauthn', name, message: 'Passkeys are not allowed on this address.' };
  return { kind: 'webauthn', name, message: 'Your browser could not complete the passkey request.' };
}

async function ceremony<T>(run: () => Promise<T>): Promise<Result<T>> {
  try {
    return { ok: true, data: await run() };
  } catch (thrown) {
    return fail(ceremonyError(thrown));
  }
}

const unsupported = (): Result<never> =>
  fail({ kind: 'webauthn', name: 'NotSupportedError', message: 'This browser does not support passkeys.' });

/** Runs an assertion in the browser and sends it to `verify`. */
async function assert(
  options: RequestOptions,
  verify: (credential: unknown) => Promise<Result<Session>>,
  useBrowserAutofill = false,
): Promise<Result<Session>> {
  const credential = await ceremony(() =>
    startAuthentication({
      optionsJSON: options as PublicKeyCredentialRequestOptionsJSON,
      useBrowserAutofill,
    }),
  );
  return credential.ok ? verify(credential.data) : credential;
}

const verifyLogin = (gw: GatewayClient) => (credential: unknown) =>
  gw.run((api) => api.POST('/api/auth/login/passkey', { body: { credential: credential as never } }), {
    stepUp: false,
  });

/**
 * Signs in with a passkey: request options (narrowed to an identifier's passkeys when one is
 * given, or the ones `identify` answered), the browser's prompt, then the verification.
 */
export async function signInWithPasskey(
  gw: GatewayClient,
  input: { identifier?: string; options?: RequestOptions } = {},
): Promise<Result<Session>> {
  if (!browserSupportsWebAuthn()) return unsupported();
  let options = input.options;
  if (!options) {
    const asked = await gw.run(
      (api) =>
        api.POST('/api/auth/login/passkey/options', {
          body: input.identifier ? { identifier: input.identifier } : {},
        }),
      { stepUp: false },
    );
    if (!asked.ok) return asked;
    options = asked.data;
  }
  return assert(options, verifyLogin(gw));
}

/**
 * Conditional UI: offers the browser's saved passkeys in the autofill of an
 * `<input autocomplete="username webauthn">` and signs in when the user picks one. Resolves
 * when the user picks a passkey (or the ceremony is cancelled with `cancelPasskeyAutofill`);
 * `null` when the browser has no passkey autofill.
 */
export async function signInWithPasskeyAutofill(gw: GatewayClient): Promise<Result<Session> | null> {
  if (!(await browserSupportsWebAuthnAutofill())) return null;
  const asked = await gw.run((api) => api.POST('/api/auth/login/passkey/options', { body: {} }), {
    stepUp: false,
  });
  if (!asked.ok) return asked;
  return assert(asked.data, verifyLogin(gw), true);
}

/** Stops a pending autofill ceremony (before starting another one, or when leaving the sign-in form). */
export function cancelPasskeyAutofill(): void {
  WebAuthnAbortService.cancelCeremony();
}

/** Registers a passkey for the signed-in identity: creation options, the browser's prompt, then the registration. */
export async function registerPasskey(
  gw: GatewayClient,
  input: { nickname?: string } = {},
): Promise<Result<Session>> {
  if (!browserSupportsWebAuthn()) return unsupported();
  const asked = await gw.run((api) => api.POST('/api/auth/passkeys/options', { body: {} }));
  if (!asked.ok) return asked;
  const credential = await ceremony(() =>
    startRegistration({ optionsJSON: asked.data as PublicKeyCredentialCreationOptionsJSON }),
  );
  if (!credential.ok) return credential;
  return gw.run((api) =>
    api.POST('/api/auth/passkeys', {
      body: { credential: credential.data as never, ...(input.nickname && { nickname: input.nickname }) },
    }),
  );
}

/** Raises this session to aal2 with a passkey: step-up options, the browser's prompt, then the verification. */
export async function stepUpWithPasskey(gw: GatewayClient): Promise<Result<Session>> {
  if (!browserSupportsWebAuthn()) return unsupported();
  const asked = await gw.run((api) => api.POST('/api/auth/step-up/options', { body: {} }), { stepUp: false });
  if (!asked.ok) return asked;
  return assert(asked.data, (credential) =>
    gw.run((api) => api.POST('/api/auth/step-up', { body: { credential: credential as never } }), {
      stepUp: false,
    }),
  );
}
