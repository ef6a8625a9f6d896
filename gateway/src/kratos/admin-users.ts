import { callKratos, toIdentity, type KratosClient } from './client.js';
import type { KratosIdentity } from './types.js';

/** One page of identities and the token of the next one. */
interface IdentityPage {
  identities: KratosIdentity[];
  nextPageToken?: string;
}

/** The `page_token` of the `rel="next"` entry of Kratos' Link header. */
function nextToken(link: string | null): string | undefined {
  for (const part of (link ?? '').split(',')) {
    if (!/rel="?next"?/.test(part)) continue;
    const url = /<([^>]+)>/.exec(part)?.[1];
    if (url) return new URL(url, 'http://kratos.invalid').searchParams.get('page_token') ?? undefined;
  }
  return undefined;
}

/**
 * Lists identities through the Kratos admin API: all of them page by page, or the one
 * whose login identifier is exactly `identifier` (Kratos has no substring search).
 */
export async function listIdentities(
  kratos: KratosClient,
  options: { identifier?: string; pageSize: number; pageToken?: string },
): Promise<IdentityPage> {
  const response = await callKratos(() =>
    kratos.admin.listIdentitiesRaw({
      pageSize: options.pageSize,
      pageToken: options.pageToken,
      credentialsIdentifier: options.identifier,
    }),
  );
  const identities = (await response.value()).map(toIdentity);
  const next = options.identifier ? undefined : nextToken(response.raw.headers.get('link'));
  return { identities, ...(next && identities.length > 0 ? { nextPageToken: next } : {}) };
}
