import type { SuccessfulNativeLogin, UiNode } from '@ory/kratos-client-fetch';
import { AppError } from '../../errors/app-error.js';
import type { KratosClient } from '../client.js';
import { callKratos, KratosHttpError } from '../client.js';

/** A social sign-in provider as Kratos lists it (kratos/social-sign-in.yml). */
export interface SocialProvider {
  id: string;
  label: string;
}

/** Kratos v1.3.1's UI text id of "that e-mail is already used by another account" (text/id.go). */
const DUPLICATE_ON_SOCIAL_SIGN_IN = 1010016;
/** How long a provider list read from Kratos is reused. */
const PROVIDERS_TTL_MS = 60_000;

const providerCache = new WeakMap<KratosClient, { at: number; providers: SocialProvider[] }>();

function providersOf(nodes: UiNode[]): SocialProvider[] {
  const providers: SocialProvider[] = [];
  for (const node of nodes) {
    const attributes = node.attributes as { name?: string; value?: unknown };
    if (node.group !== 'oidc' || attributes.name !== 'provider' || typeof attributes.value !== 'string')
      continue;
    const context = (node.meta.label?.context ?? {}) as { provider?: unknown };
    const label = typeof context.provider === 'string' ? context.provider : attributes.value;
    providers.push({ id: attributes.value, label });
  }
  return providers;
}

/** The providers Kratos offers (the oidc nodes of a login flow), read at most once a minute. */
export async function socialProviders(kratos: KratosClient, now: number): Promise<SocialProvider[]> {
  const cached = providerCache.get(kratos);
  if (cached && now - cached.at < PROVIDERS_TTL_MS) return cached.providers;
  const flow = await callKratos(() => kratos.frontend.createNativeLoginFlow());
  const providers = providersOf(flow.ui.nodes);
  providerCache.set(kratos, { at: now, providers });
  return providers;
}

export const unknownProvider = () =>
  new AppError('unknown_provider', 404, 'This sign-in provider is not offered here.');

/**
 * Starts a native login flow that ends in a session-token exchange, and submits it with the
 * provider: Kratos answers where the browser goes (the provider's authorization URL, with a
 * state that binds the flow and a hash of the init code). The init code never leaves the
 * gateway; the browser only ever carries the code Kratos returns to `returnTo`.
 */
export async function startSocialLogin(
  kratos: KratosClient,
  provider: SocialProvider,
  returnTo: string,
): Promise<{ flowId: string; expiresAt: number; initCode: string; redirectTo: string }> {
  const flow = await callKratos(() =>
    kratos.frontend.createNativeLoginFlow({ returnSessionTokenExchangeCode: true, returnTo }),
  );
  const initCode = flow.session_token_exchange_code;
  if (!initCode)
    throw new AppError('kratos_invalid_response', 502, 'The identity service gave no exchange code.');
  try {
    await callKratos(() =>
      kratos.frontend.updateLoginFlow({
        flow: flow.id,
        updateLoginFlowBody: { method: 'oidc', provider: provider.id, csrf_token: '' },
      }),
    );
  } catch (err) {
    const redirectTo = err instanceof KratosHttpError ? err.body.redirect_browser_to : undefined;
    if (err instanceof KratosHttpError && err.status === 422 && redirectTo && /^https?:\/\//.test(redirectTo))
      return { flowId: flow.id, expiresAt: new Date(flow.expires_at).getTime(), initCode, redirectTo };
    if (err instanceof KratosHttpError && err.status === 404) throw unknownProvider();
    // Kratos reads the provider's discovery document here: its 500 is the provider failing.
    if (err instanceof AppError && err.code === 'kratos_unavailable' && err.status === 502)
      throw new AppError(
        'social_provider_unavailable',
        502,
        `${provider.label} cannot be reached right now. Try again later or sign in another way.`,
        { details: { provider: provider.id } },
      );
    throw err;
  }
  throw new AppError('kratos_invalid_response', 502, 'The identity service signed in without the provider.');
}

/**
 * The session Kratos made at the end of a social sign-in, for the flow's init code and the code
 * that came back through the browser; undefined when the pair names none. Kratos answers the same
 * pair again, so the caller forgets the init code before asking.
 */
export async function exchangeSocialSession(
  kratos: KratosClient,
  initCode: string,
  returnToCode: string,
): Promise<SuccessfulNativeLogin | undefined> {
  try {
    return await callKratos(() => kratos.frontend.exchangeSessionToken({ initCode, returnToCode }));
  } catch (err) {
    if (err instanceof KratosHttpError && (err.status === 404 || err.status === 400 || err.status === 410))
      return undefined;
    throw err;
  }
}

/**
 * The login flow Kratos opened instead of a sign-up whose address already belongs to an
 * account: the address, if the flow is such a flow and was started for `returnTo`.
 */
export async function duplicateAccountFlow(
  kratos: KratosClient,
  flowId: string,
  returnTo: string,
): Promise<{ identifier: string; expiresAt: number } | undefined> {
  let flow;
  try {
    flow = await callKratos(() => kratos.frontend.getLoginFlow({ id: flowId }));
  } catch (err) {
    if (err instanceof KratosHttpError) return undefined;
    throw err;
  }
  if (flow.return_to !== returnTo) return undefined;
  const message = flow.ui.messages?.find((m) => m.id === DUPLICATE_ON_SOCIAL_SIGN_IN);
  const context = (message?.context ?? {}) as { duplicate_identifier?: unknown };
  if (typeof context.duplicate_identifier !== 'string') return undefined;
  return { identifier: context.duplicate_identifier, expiresAt: new Date(flow.expires_at).getTime() };
}

/** The providers linked to an identity, as Kratos names them: `<provider>:<subject>`. */
export async function linkedSocialIdentifiers(kratos: KratosClient, identityId: string): Promise<string[]> {
  const identity = await callKratos(() =>
    kratos.admin.getIdentity({ id: identityId, includeCredential: ['oidc'] }),
  );
  return identity.credentials?.oidc?.identifiers ?? [];
}

/** Removes one linked provider account from an identity. */
export async function unlinkSocialIdentifier(
  kratos: KratosClient,
  identityId: string,
  identifier: string,
): Promise<void> {
  await callKratos(() =>
    kratos.admin.deleteIdentityCredentials({ id: identityId, type: 'oidc', identifier }),
  );
}
