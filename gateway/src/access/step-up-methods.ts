import type { Request } from 'express';
import type { AppDeps } from '../deps.js';

/**
 * The factors this principal can use to reach aal2: its passkeys (any session) and, for
 * sessions that hold a Kratos session, the TOTP app or backup codes it enrolled at Kratos.
 * Looked up only when a guard refuses, never on the happy path.
 */
export async function stepUpMethods(deps: AppDeps, req: Request): Promise<string[]> {
  const p = req.principal;
  if (!p) return [];
  const methods: string[] = [];
  const { rows } = await deps.db.query('SELECT 1 FROM passkey_credentials WHERE identity_id = $1 LIMIT 1', [
    p.identityId,
  ]);
  if (rows.length > 0) methods.push('passkey');
  if (p.source === 'gateway' && req.session?.auth?.kratosToken) {
    const identity = await deps.kratos.getIdentity(p.identityId);
    for (const type of ['totp', 'lookup_secret'])
      if (identity?.credentialTypes.includes(type)) methods.push(type);
  }
  return methods;
}
