import type { KratosClient } from '../client.js';
import { callKratos, KratosHttpError } from '../client.js';

/** What became of a submitted verification code. */
type VerificationOutcome = 'verified' | 'invalid_code' | 'expired';

/** Starts a native verification flow with the `code` method and asks Kratos to send the code. */
export async function startVerificationFlow(
  kratos: KratosClient,
  email: string,
): Promise<{ flowId: string; expiresAt: number }> {
  const flow = await callKratos(() => kratos.frontend.createNativeVerificationFlow());
  await callKratos(() =>
    kratos.frontend.updateVerificationFlow({
      flow: flow.id,
      updateVerificationFlowBody: { method: 'code', email },
    }),
  );
  return {
    flowId: flow.id,
    expiresAt: flow.expires_at ? new Date(flow.expires_at).getTime() : Number.MAX_SAFE_INTEGER,
  };
}

/** Submits the code of a verification flow. */
export async function submitVerificationCode(
  kratos: KratosClient,
  flowId: string,
  code: string,
): Promise<VerificationOutcome> {
  try {
    const flow = await callKratos(() =>
      kratos.frontend.updateVerificationFlow({
        flow: flowId,
        updateVerificationFlowBody: { method: 'code', code },
      }),
    );
    // Kratos may answer 200 with the flow still waiting for a valid code.
    return flow.state === 'passed_challenge' ? 'verified' : 'invalid_code';
  } catch (err) {
    if (err instanceof KratosHttpError && err.status === 400) return 'invalid_code';
    if (err instanceof KratosHttpError && (err.status === 404 || err.status === 410)) return 'expired';
    throw err;
  }
}
