import type { KratosClient } from '../client.js';
import { callKratos } from '../client.js';

/** The verification flow Kratos started for a phone number it texted a code to. */
interface PhoneVerificationFlow {
  flowId: string;
  expiresAt: number;
}

/**
 * Saves the identity's traits through a settings flow (method `profile`) of the session behind
 * `sessionToken`. When `phone` is a new verifiable address, Kratos' verification hook texts it a
 * code and points at a verification flow (`continue_with: show_verification_ui`); that flow is
 * answered (Kratos v1.3.1's verification flow takes only e-mail addresses to send a code to,
 * so a settings change is the one way to text a phone number a verification code).
 */
export async function saveTraitsForPhone(
  kratos: KratosClient,
  sessionToken: string,
  traits: Record<string, unknown>,
  phone: string | undefined,
): Promise<PhoneVerificationFlow | undefined> {
  const flow = await callKratos(() =>
    kratos.frontend.createNativeSettingsFlow({ xSessionToken: sessionToken }),
  );
  const saved = await callKratos(() =>
    kratos.frontend.updateSettingsFlow({
      flow: flow.id,
      xSessionToken: sessionToken,
      updateSettingsFlowBody: { method: 'profile', traits },
    }),
  );
  if (phone === undefined) return undefined;
  const next = (saved.continue_with ?? []).find(
    (c) => c.action === 'show_verification_ui' && c.flow.verifiable_address === phone,
  );
  if (!next || next.action !== 'show_verification_ui') return undefined;
  const verification = await callKratos(() => kratos.frontend.getVerificationFlow({ id: next.flow.id }));
  return {
    flowId: verification.id,
    expiresAt: verification.expires_at
      ? new Date(verification.expires_at).getTime()
      : Number.MAX_SAFE_INTEGER,
  };
}
