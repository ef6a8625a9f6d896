import type { KratosClient } from '../client.js';
import { callKratos, KratosHttpError } from '../client.js';
import { AppError } from '../../errors/app-error.js';

/** What became of a submitted recovery code. */
type RecoveryOutcome =
  { status: 'recovered'; sessionToken: string } | { status: 'invalid_code' } | { status: 'expired' };

/**
 * Starts a native recovery flow with the `code` method and asks Kratos to send the code.
 * Kratos answers alike for known and unknown addresses; so does this function.
 */
export async function startRecoveryFlow(
  kratos: KratosClient,
  email: string,
): Promise<{ flowId: string; expiresAt: number }> {
  const flow = await callKratos(() => kratos.frontend.createNativeRecoveryFlow());
  await callKratos(() =>
    kratos.frontend.updateRecoveryFlow({ flow: flow.id, updateRecoveryFlowBody: { method: 'code', email } }),
  );
  return { flowId: flow.id, expiresAt: new Date(flow.expires_at).getTime() };
}

/** Submits the code of a recovery flow; on success Kratos hands over a session token (`continue_with`). */
export async function submitRecoveryCode(
  kratos: KratosClient,
  flowId: string,
  code: string,
): Promise<RecoveryOutcome> {
  let flow;
  try {
    flow = await callKratos(() =>
      kratos.frontend.updateRecoveryFlow({ flow: flowId, updateRecoveryFlowBody: { method: 'code', code } }),
    );
  } catch (err) {
    if (err instanceof KratosHttpError && err.status === 400) return { status: 'invalid_code' };
    if (err instanceof KratosHttpError && (err.status === 404 || err.status === 410))
      return { status: 'expired' };
    throw err;
  }
  const handover = flow.continue_with?.find((c) => c.action === 'set_ory_session_token');
  if (handover && 'ory_session_token' in handover)
    return { status: 'recovered', sessionToken: handover.ory_session_token };
  if (flow.state !== 'passed_challenge') return { status: 'invalid_code' };
  throw new AppError('kratos_invalid_response', 502, 'Kratos completed the recovery without a session.');
}
