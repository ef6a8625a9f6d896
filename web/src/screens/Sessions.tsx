import type { Schema } from '@auth-gateway/client';
import { useCallback, useEffect, useState } from 'react';
import { gw } from '../gateway';
import { useSession } from '../session';
import { Card, formatDate, Notice, useTask } from '../ui';

const METHOD_NAMES: Record<string, string> = {
  password: 'password',
  passkey: 'passkey',
  totp: 'authenticator app',
  lookup_secret: 'backup code',
  code: 'e-mail code',
};

function device(userAgent: string | undefined): string {
  if (!userAgent) return 'Unknown device';
  const browser = /Edg\//.test(userAgent)
    ? 'Edge'
    : /Chrome\//.test(userAgent)
      ? 'Chrome'
      : /Firefox\//.test(userAgent)
        ? 'Firefox'
        : /Safari\//.test(userAgent)
          ? 'Safari'
          : 'A browser';
  const os = /Android/.test(userAgent)
    ? 'Android'
    : /iPhone|iPad/.test(userAgent)
      ? 'iOS'
      : /Mac OS X/.test(userAgent)
        ? 'macOS'
        : /Windows/.test(userAgent)
          ? 'Windows'
          : /Linux/.test(userAgent)
            ? 'Linux'
            : '';
  return os ? `${browser} on ${os}` : browser;
}

/** Where the account is signed in: revoke one session, or sign out everywhere. */
export function Sessions() {
  const { signedOut, refresh } = useSession();
  const task = useTask();
  const [sessions, setSessions] = useState<Schema<'SessionSummary'>[]>();
  const { run } = task;

  const load = useCallback(async () => {
    const result = await run(() => gw.run((api) => api.GET('/api/auth/sessions')));
    if (result?.ok) setSessions(result.data.sessions);
  }, [run]);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <Card title="Where you’re signed in" id="sessions">
      {sessions && (
        <ul className="rows" aria-label="Your sessions">
          {sessions.map((s) => (
            <li key={s.id} className="row" data-testid="session">
              <div className="row-main">
                <strong>
                  {device(s.userAgent)}
                  {s.current && <span className="badge">This device</span>}
                </strong>
                <small>
                  Signed in {formatDate(s.authenticatedAt)} with{' '}
                  {s.methods.map((m) => METHOD_NAMES[m] ?? m).join(' + ')}
                  {s.ip ? ` · ${s.ip}` : ''}
                </small>
              </div>
              <div className="row-actions">
                <button
                  type="button"
                  disabled={task.busy}
                  onClick={async () => {
                    const result = await task.run(() =>
                      gw.run((api) =>
                        api.DELETE('/api/auth/sessions/{id}', { params: { path: { id: s.id } } }),
                      ),
                    );
                    if (!result?.ok) return;
                    if (s.current) await refresh();
                    else void load();
                  }}
                >
                  {s.current ? 'Sign out' : 'Revoke'}
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      <button
        type="button"
        className="danger"
        disabled={task.busy}
        onClick={async () => {
          if (!window.confirm('Sign out on every device, this one included?')) return;
          const result = await task.run(() => gw.run((api) => api.POST('/api/auth/logout/all')));
          if (result?.ok) signedOut();
        }}
      >
        Sign out everywhere
      </button>
      <Notice task={task} />
    </Card>
  );
}
