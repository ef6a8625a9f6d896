import { COSEALG } from '@simplewebauthn/server/helpers';
import type { Config } from '../config.js';

/** The gateway as a WebAuthn relying party, read from the configuration. */
export interface RelyingParty {
  id: string;
  name: string;
  /** Every origin a ceremony may come from (the SPA and the gateway may differ). */
  origins: string[];
  userVerification: 'preferred' | 'required';
  attestation: 'none' | 'direct';
  /** How long the browser may take, matched to the challenge's lifetime. */
  timeoutMs: number;
  /** ES256, EdDSA and RS256: what platform authenticators and security keys use today. */
  algorithms: number[];
}

/** Builds the relying party from `WEBAUTHN_*` settings. */
export function relyingParty(config: Config): RelyingParty {
  return {
    id: config.WEBAUTHN_RP_ID,
    name: config.WEBAUTHN_RP_NAME,
    origins: config.WEBAUTHN_ORIGINS,
    userVerification: config.WEBAUTHN_USER_VERIFICATION,
    attestation: config.WEBAUTHN_ATTESTATION,
    timeoutMs: config.WEBAUTHN_CHALLENGE_TTL_SECONDS * 1000,
    algorithms: [COSEALG.ES256, COSEALG.EdDSA, COSEALG.RS256],
  };
}
