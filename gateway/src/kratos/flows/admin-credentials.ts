import type { KratosClient } from '../client.js';
import { callKratos, KratosHttpError } from '../client.js';
import { notFound } from '../../errors/app-error.js';

/**
 * Credential changes through the admin API, for sessions that hold no Kratos session
 * (passkey-only sign-ins): Kratos runs settings flows only for a session of its own.
 */

/** Sets (or replaces) the identity's password: the admin update keeps the other credentials. */
export async function setPasswordAsAdmin(
  kratos: KratosClient,
  identityId: string,
  password: string,
): Promise<void> {
  const identity = await callKratos(() => kratos.admin.getIdentity({ id: identityId }));
  // Kratos types the metadata as any: opaque JSON, given back as it came.
  const metadataPublic: unknown = identity.metadata_public;
  const metadataAdmin: unknown = identity.metadata_admin;
  await callKratos(() =>
    kratos.admin.updateIdentity({
      id: identityId,
      updateIdentityBody: {
        schema_id: identity.schema_id,
        traits: identity.traits as object,
        state: identity.state ?? 'active',
        metadata_public: metadataPublic ?? undefined,
        metadata_admin: metadataAdmin ?? undefined,
        credentials: { password: { config: { password } } },
      },
    }),
  );
}

/** Removes the identity's TOTP authenticator; false when it had none. */
export async function removeTotpAsAdmin(kratos: KratosClient, identityId: string): Promise<boolean> {
  try {
    await callKratos(() => kratos.admin.deleteIdentityCredentials({ id: identityId, type: 'totp' }));
    return true;
  } catch (err) {
    if (err instanceof KratosHttpError && err.status === 404) {
      if (!(await kratos.getIdentity(identityId))) throw notFound('Identity');
      return false;
    }
    throw err;
  }
}
