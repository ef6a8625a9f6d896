import type { Session } from '@auth-gateway/client';
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { gw } from './gateway';
import { errorText } from './ui';

export type SessionState =
  | { status: 'loading' }
  | { status: 'signed-out' }
  /** Signed in with a first factor; the second is owed (`methods` can pay it). */
  | { status: 'second-factor'; methods: string[] }
  /** The policy requires a second factor of this account, and its grace period is over. */
  | { status: 'enrol'; dueAt: string }
  | { status: 'signed-in'; session: Session }
  | { status: 'error'; message: string };

interface SessionContext {
  state: SessionState;
  /** Reads GET /api/auth/session again. */
  refresh(): Promise<void>;
  /** Takes the session a sign-in, sign-up or step-up answered. */
  signedIn(session: Session): void;
  /** A password sign-in that owes its second factor. */
  secondFactorOwed(methods: string[]): void;
  /** The session ended elsewhere (sign-out everywhere). */
  signedOut(): void;
  signOut(): Promise<void>;
}

const Context = createContext<SessionContext | undefined>(undefined);

const methodsOf = (details: Record<string, unknown> | undefined) =>
  Array.isArray(details?.methods)
    ? (details.methods as unknown[]).filter((m): m is string => typeof m === 'string')
    : [];

/** Who is signed in, for the whole app: one GET /api/auth/session at start, then what the calls answer. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ status: 'loading' });

  const refresh = useCallback(async () => {
    const result = await gw.run((api) => api.GET('/api/auth/session'), { stepUp: false });
    if (result.ok) return setState({ status: 'signed-in', session: result.data });
    const { error } = result;
    if (error.kind === 'api' && error.code === 'unauthenticated') return setState({ status: 'signed-out' });
    if (error.kind === 'api' && error.code === 'aal2_required')
      return setState({ status: 'second-factor', methods: methodsOf(error.details) });
    if (error.kind === 'api' && error.code === 'mfa_enrollment_required')
      return setState({ status: 'enrol', dueAt: String(error.details?.dueAt ?? '') });
    setState({ status: 'error', message: errorText(error) });
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  const signedIn = useCallback((session: Session) => setState({ status: 'signed-in', session }), []);
  const secondFactorOwed = useCallback(
    (methods: string[]) => setState({ status: 'second-factor', methods }),
    [],
  );
  const signedOut = useCallback(() => setState({ status: 'signed-out' }), []);
  const signOut = useCallback(async () => {
    await gw.run((api) => api.POST('/api/auth/logout'), { stepUp: false });
    setState({ status: 'signed-out' });
  }, []);

  const value = useMemo<SessionContext>(
    () => ({ state, refresh, signedIn, secondFactorOwed, signedOut, signOut }),
    [state, refresh, signedIn, secondFactorOwed, signedOut, signOut],
  );
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useSession(): SessionContext {
  const context = useContext(Context);
  if (!context) throw new Error('useSession needs a SessionProvider');
  return context;
}

export { methodsOf };
