import type { CeremonyContext, CeremonyDeps } from './ceremony.js';

/** The request that proved the address: its session says which passkeys it used or added. */
type ProvingContext = Pick<CeremonyContext, 'ip' | 'requestId'> & {
  session: { auth?: { identityId: string; passkeysUsed?: string[]; enrolledHere?: string[] } | undefined };
};

/** A passkey removed because someone proved the account's address. */
export interface RemovedPasskey {
  id: string;
  nickname: string;
  createdAt: string;
}

/**
 * Someone just proved they hold the account's address (recovery, verification or a code sign-in): the
 * passkeys registered while it was unverified go (a pre-account takeover plants them),
 * except those the proving session itself signed in with or registered (a genuine user
 * verifying late). Each removal is audited; the list is answered so the holder sees it.
 */
export async function removePasskeysPlantedBeforeProof(
  deps: { passkeys: Pick<CeremonyDeps['passkeys'], 'removeUnverifiedEra'>; audit: CeremonyDeps['audit'] },
  ctx: ProvingContext,
  identityId: string,
  via: 'recovery' | 'verification' | 'code_login',
): Promise<RemovedPasskey[]> {
  const auth = ctx.session.auth;
  const keep =
    auth?.identityId === identityId
      ? [
          ...(auth.passkeysUsed ?? []),
          ...(auth.enrolledHere ?? []).filter((f) => f.startsWith('passkey:')).map((f) => f.slice(8)),
        ]
      : [];
  const removed = await deps.passkeys.removeUnverifiedEra(identityId, keep);
  for (const p of removed) {
    await deps.audit.record({
      type: 'passkey.removed',
      outcome: 'success',
      identityId,
      actorId: identityId,
      ip: ctx.ip,
      requestId: ctx.requestId,
      details: { passkeyId: p.id, nickname: p.nickname, reason: 'registered_before_address_proven', via },
    });
  }
  return removed.map((p) => ({ id: p.id, nickname: p.nickname, createdAt: p.createdAt }));
}
