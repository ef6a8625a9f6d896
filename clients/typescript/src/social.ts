import type { GatewayClient } from './client.js';

/**
 * Where a "Sign in with …" link points: the gateway starts the sign-in and sends the browser on
 * to the provider. Navigate to it (a link or `location.assign`), never fetch it.
 */
export function socialSignInUrl(gw: Pick<GatewayClient, 'baseUrl'>, provider: string): string {
  return `${gw.baseUrl}/api/auth/oidc/${encodeURIComponent(provider)}`;
}

/** How a social sign-in ended, as the gateway tells the app when it sends the browser back. */
export type SocialOutcome =
  { status: 'account_exists'; provider: string } | { status: 'failed'; reason: string };

/**
 * Reads the outcome from the app's URL (`?social=…`) after a social sign-in that did not sign
 * in; undefined when there is none (a successful sign-in lands on the app with no query).
 */
export function socialOutcome(search: string): SocialOutcome | undefined {
  const query = new URLSearchParams(search);
  const status = query.get('social');
  if (status === 'account_exists') return { status, provider: query.get('provider') ?? '' };
  if (status === 'failed') return { status, reason: query.get('reason') ?? 'refused' };
  return undefined;
}
