import type { SuccessfulNativeLogin } from '@ory/kratos-client-fetch';
import { AppError } from '../../errors/app-error.js';
import type { KratosClient } from '../client.js';
import { callKratos, KratosHttpError } from '../client.js';

/** Kratos v1.3.1's UI message ids of the `code` login method (text/id.go). */
const CODE_SENT = 1010014;
const NO_CODE_ACCOUNT = 4000035;

/** What became of a submitted login code. */
type CodeLoginOutcome =
  { status: 'signed_in'; result: SuccessfulNativeLogin } | { status: 'invalid_code' } | { status: 'expired' };

/**
 * Starts a native login flow and asks Kratos to send a sign-in code: e-mailed to an address,
 * texted to a phone number (the identity schema's `code.via`). Kratos answers 400 with the flow
 * in `sent_email` (1010014, for texts too) for an identifier with a code credential, and 400 with
 * 4000035 (nothing sent) for any other: both are "done" here, so callers cannot tell them apart.
 * Any other refusal is a failure of the identity service, answered without Kratos' words.
 * Without an identifier the flow is only created: nothing is sent.
 */
export async function startCodeLogin(
  kratos: KratosClient,
  identifier: string | undefined,
  /** A login flow to send the code in (a social sign-in's, to link it), instead of a new one. */
  flowId?: string,
): Promise<{ flowId: string; expiresAt: number }> {
  const flow = flowId
    ? await callKratos(() => kratos.frontend.getLoginFlow({ id: flowId }))
    : await callKratos(() => kratos.frontend.createNativeLoginFlow());
  if (identifier === undefined) return { flowId: flow.id, expiresAt: new Date(flow.expires_at).getTime() };
  try {
    await callKratos(() =>
      kratos.frontend.updateLoginFlow({
        flow: flow.id,
        updateLoginFlowBody: { method: 'code', identifier, csrf_token: '' },
      }),
    );
  } catch (err) {
    const ids = err instanceof KratosHttpError && err.status === 400 ? err.messageIds() : [];
    if (ids.includes(CODE_SENT) || ids.includes(NO_CODE_ACCOUNT))
      return { flowId: flow.id, expiresAt: new Date(flow.expires_at).getTime() };
    if (err instanceof KratosHttpError)
      throw new AppError('kratos_invalid_response', 502, 'The identity service could not send a code.');
    throw err;
  }
  throw new AppError('kratos_invalid_response', 502, 'The identity service signed in without a code.');
}

/**
 * Submits the code of a login flow. A wrong code (4010008), one guessed too often (4000001), a
 * flow already completed, and a flow for an address without an account all come back as 400:
 * `invalid_code`. A flow Kratos no longer has (404, 410) is `expired`. A disabled identity
 * that entered its right code gets Kratos' 401, as a password sign-in does.
 */
export async function submitLoginCode(
  kratos: KratosClient,
  flowId: string,
  identifier: string,
  code: string,
): Promise<CodeLoginOutcome> {
  try {
    const result = await callKratos(() =>
      kratos.frontend.updateLoginFlow({
        flow: flowId,
        updateLoginFlowBody: { method: 'code', identifier, code, csrf_token: '' },
      }),
    );
    return { status: 'signed_in', result };
  } catch (err) {
    if (err instanceof KratosHttpError && err.status === 400) return { status: 'invalid_code' };
    if (err instanceof KratosHttpError && (err.status === 404 || err.status === 410))
      return { status: 'expired' };
    throw err;
  }
}
