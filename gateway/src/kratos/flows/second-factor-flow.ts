import type { UpdateLoginFlowBody } from '@ory/kratos-client-fetch';
import type { KratosClient } from '../client.js';
import { callKratos, KratosHttpError } from '../client.js';
import { unauthenticated } from '../../errors/app-error.js';

/** A Kratos second factor: a TOTP code or a backup (lookup secret) code. */
export type SecondFactor = { method: 'totp'; code: string } | { method: 'lookup_secret'; code: string };

type SecondFactorOutcome = 'completed' | 'already_aal2' | 'invalid_code';

function loginBody(factor: SecondFactor): UpdateLoginFlowBody {
  return factor.method === 'totp'
    ? { method: 'totp', totp_code: factor.code }
    : { method: 'lookup_secret', lookup_secret: factor.code };
}

/**
 * Raises the Kratos session behind `sessionToken` to aal2: a native login flow with
 * `aal=aal2` for that session, completed with the second factor. Kratos upgrades the
 * session in place, so the token stays the same.
 */
export async function completeSecondFactor(
  kratos: KratosClient,
  sessionToken: string,
  factor: SecondFactor,
): Promise<SecondFactorOutcome> {
  let flowId: string;
  try {
    const flow = await callKratos(() =>
      kratos.frontend.createNativeLoginFlow({ aal: 'aal2', xSessionToken: sessionToken }),
    );
    flowId = flow.id;
  } catch (err) {
    // Kratos v1.3.1 answers 400 session_already_available when the session is aal2 already.
    if (err instanceof KratosHttpError && err.body.error?.id === 'session_already_available')
      return 'already_aal2';
    if (err instanceof KratosHttpError && err.status === 401) throw unauthenticated();
    throw err;
  }
  try {
    await callKratos(() =>
      kratos.frontend.updateLoginFlow({
        flow: flowId,
        xSessionToken: sessionToken,
        updateLoginFlowBody: loginBody(factor),
      }),
    );
    return 'completed';
  } catch (err) {
    if (err instanceof KratosHttpError && err.status === 400) return 'invalid_code';
    if (err instanceof KratosHttpError && err.status === 401) throw unauthenticated();
    throw err;
  }
}
