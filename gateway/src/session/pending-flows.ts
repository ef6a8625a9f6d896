import type { Session } from './session-store.js';

/** A Kratos flow the gateway runs for this browser; its id never leaves the server. */
interface PendingFlow {
  id: string;
  expiresAt: number;
  /** The identity the flow acts for (settings flows), so another sign-in cannot continue it. */
  identityId?: string | undefined;
  /** The address a code was sent to (recovery, sign-in by code), never shown to the client. */
  address?: string | undefined;
  /** Social sign-in: the session-token exchange's init code, which never leaves the server. */
  initCode?: string | undefined;
  /** Social sign-in: the random value in the flow's return URL that ties the answer to this browser. */
  binding?: string | undefined;
  /** Social sign-in: the provider's id. */
  provider?: string | undefined;
  /**
   * No code was sent for this flow (a texted sign-in code asked for an unverified number): any
   * code is wrong, exactly as for a number without an account.
   */
  refused?: boolean;
}

type FlowName =
  'recovery' | 'verification' | 'totp' | 'login_code' | 'login_sms_code' | 'phone' | 'social' | 'social_link';

declare module './session-store.js' {
  interface SessionData {
    /** Kratos flows in progress for this browser, by purpose. */
    accountFlows?: Partial<Record<FlowName, PendingFlow>>;
  }
}

/**
 * Remembers a flow in the browser's gateway session (a pre-session before sign-in), so a
 * later step continues the flow this browser started and never one named by the client.
 */
export async function rememberFlow(session: Session, name: FlowName, flow: PendingFlow): Promise<void> {
  session.accountFlows = { ...session.accountFlows, [name]: flow };
  await session.save();
}

/** The flow this browser started for `name`, unless it expired or belongs to another identity. */
export function pendingFlow(
  session: Session,
  name: FlowName,
  now: number,
  identityId?: string,
): PendingFlow | undefined {
  const flow = session.accountFlows?.[name];
  if (!flow || flow.expiresAt <= now) return undefined;
  if (flow.identityId !== undefined && flow.identityId !== identityId) return undefined;
  return flow;
}

/** True when this browser started a `name` flow that has expired since. */
export function flowExpired(session: Session, name: FlowName, now: number): boolean {
  const flow = session.accountFlows?.[name];
  return flow !== undefined && flow.expiresAt <= now;
}

/** Forgets a finished flow. */
export async function forgetFlow(session: Session, name: FlowName): Promise<void> {
  const flows = session.accountFlows;
  if (!flows?.[name]) return;
  delete flows[name];
  if (Object.keys(flows).length === 0) delete session.accountFlows;
  await session.save();
}
