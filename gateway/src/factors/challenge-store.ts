import type { Kv } from '../redis/client.js';

/** Which ceremony a challenge was issued for; a challenge never crosses ceremonies. */
export type CeremonyPurpose = 'registration' | 'login' | 'step-up';

/** What the gateway remembers about a challenge it handed out. */
export interface PendingChallenge {
  purpose: CeremonyPurpose;
  /** The identity the ceremony is for (registration, step-up). */
  identityId?: string;
  /** For a login narrowed by an identifier: the credentials that were offered. */
  allowCredentialIds?: string[];
}

/**
 * WebAuthn challenges in Redis, keyed by the browser's pre-session id and the challenge
 * itself: a challenge is only found again from the session it was issued to, it lives
 * `ttlSeconds`, and `consume` deletes it atomically (GETDEL) so a replayed or raced
 * assertion finds nothing. Several ceremonies may be pending at once (conditional UI
 * in the background while the user types an identifier).
 */
export function createChallengeStore(kv: Kv, ttlSeconds: number) {
  const key = (preId: string, challenge: string) => `webauthn:${preId}:${challenge}`;
  return {
    async issue(preId: string, challenge: string, pending: PendingChallenge): Promise<void> {
      await kv.set(key(preId, challenge), JSON.stringify(pending), ttlSeconds);
    },

    /** Takes the challenge out of the store; undefined when unknown, expired, used or for another ceremony. */
    async consume(
      preId: string,
      challenge: string,
      purpose: CeremonyPurpose,
    ): Promise<PendingChallenge | undefined> {
      const raw = await kv.getDel(key(preId, challenge));
      if (!raw) return undefined;
      const pending = JSON.parse(raw) as PendingChallenge;
      return pending.purpose === purpose ? pending : undefined;
    },
  };
}

export type ChallengeStore = ReturnType<typeof createChallengeStore>;
