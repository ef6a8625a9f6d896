import type { SettingsFlow, UpdateSettingsFlowBody } from '@ory/kratos-client-fetch';
import type { KratosClient } from '../client.js';
import { callKratos, KratosHttpError } from '../client.js';
import { AppError, unauthenticated } from '../../errors/app-error.js';
import { lookupCodesOf, totpSecretOf } from './ui-nodes.js';

/** The parts of a settings flow the gateway acts on. */
interface SettingsFlowView {
  id: string;
  expiresAt: number;
  /** The TOTP secret offered for enrollment (only while the identity has no TOTP). */
  totpSecret?: string | undefined;
  /** Backup codes shown by the flow (after a regenerate, until confirmed). */
  lookupCodes?: string[] | undefined;
}

function view(flow: SettingsFlow): SettingsFlowView {
  return {
    id: flow.id,
    expiresAt: new Date(flow.expires_at).getTime(),
    totpSecret: totpSecretOf(flow.ui),
    lookupCodes: lookupCodesOf(flow.ui),
  };
}

/** Starts a native settings flow for the session behind `sessionToken`. */
export async function createSettingsFlow(
  kratos: KratosClient,
  sessionToken: string,
): Promise<SettingsFlowView> {
  return view(
    await callKratos(() => kratos.frontend.createNativeSettingsFlow({ xSessionToken: sessionToken })),
  );
}

/** Submits one method of a settings flow on behalf of the session behind `sessionToken`. */
export async function updateSettingsFlow(
  kratos: KratosClient,
  sessionToken: string,
  flowId: string,
  body: UpdateSettingsFlowBody,
): Promise<SettingsFlowView> {
  return view(
    await callKratos(() =>
      kratos.frontend.updateSettingsFlow({
        flow: flowId,
        xSessionToken: sessionToken,
        updateSettingsFlowBody: body,
      }),
    ),
  );
}

/** One problem Kratos reported about a submission, with the field it belongs to. */
interface SettingsProblem {
  id: number;
  text: string;
  field?: string | undefined;
}

/** The error messages of a refused settings submission. */
export function settingsProblems(err: KratosHttpError): SettingsProblem[] {
  const problems: SettingsProblem[] = (err.body.ui?.messages ?? [])
    .filter((m) => m.type === 'error')
    .map((m) => ({ id: m.id, text: m.text }));
  for (const node of err.body.ui?.nodes ?? []) {
    for (const m of node.messages ?? [])
      if (m.type === 'error') problems.push({ id: m.id, text: m.text, field: node.attributes?.name });
  }
  return problems;
}

/**
 * Maps Kratos' soft errors of settings flows to the gateway's answers: a session too old
 * for privileged changes, a missing second factor, a session gone, a flow gone. Anything
 * else (400 validation included) is returned unchanged for the caller to word.
 */
export function settingsError(err: unknown): unknown {
  if (!(err instanceof KratosHttpError)) return err;
  const id = err.body.error?.id;
  if (err.status === 403 && id === 'session_refresh_required')
    return new AppError('reauthentication_required', 403, 'Sign in again to continue.');
  if (err.status === 403 && id === 'session_aal2_required')
    return new AppError('aal2_required', 403, 'Complete a second factor to continue.', {
      details: { methods: ['totp', 'lookup_secret'] },
    });
  if (err.status === 401) return unauthenticated();
  if (err.status === 404 || err.status === 410 || id === 'security_identity_mismatch')
    return new AppError('flow_expired', 410, 'This step has expired; start again.');
  return err;
}
