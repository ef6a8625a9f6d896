import { registerPasskey, type Schema } from '@auth-gateway/client';
import { useCallback, useEffect, useState } from 'react';
import { gw } from '../gateway';
import { useSession } from '../session';
import { Card, Field, formatDate, Notice, Submit, useTask } from '../ui';

type Passkey = Schema<'Passkey'>;

function PasskeyRow({ passkey, onChanged }: { passkey: Passkey; onChanged: (message: string) => void }) {
  const task = useTask();
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(passkey.nickname);
  const params = { path: { id: passkey.id } };
  return (
    <li className="row" data-testid="passkey">
      {editing ? (
        <form
          className="inline"
          onSubmit={async (e) => {
            e.preventDefault();
            const result = await task.run(() =>
              gw.run((api) =>
                api.PATCH('/api/auth/passkeys/{id}', { params, body: { nickname: name.trim() } }),
              ),
            );
            if (result?.ok) {
              setEditing(false);
              onChanged('Passkey renamed.');
            }
          }}
        >
          <Field
            label="Name"
            name={`rename-${passkey.id.slice(0, 8)}`}
            value={name}
            onChange={setName}
            required
          />
          <Submit busy={task.busy}>Save</Submit>
          <button type="button" className="link" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <>
          <div className="row-main">
            <strong className="passkey-name">{passkey.nickname}</strong>
            <small>
              {passkey.authenticator ??
                (passkey.deviceType === 'multiDevice' ? 'Synced passkey' : 'Device-bound passkey')}
              {' · added '}
              {formatDate(passkey.createdAt)}
              {passkey.lastUsedAt ? ` · last used ${formatDate(passkey.lastUsedAt)}` : ' · never used'}
            </small>
          </div>
          <div className="row-actions">
            <button type="button" onClick={() => setEditing(true)}>
              Rename
            </button>
            <button
              type="button"
              className="danger"
              disabled={task.busy}
              onClick={async () => {
                if (!window.confirm(`Remove the passkey “${passkey.nickname}”?`)) return;
                const result = await task.run(() =>
                  gw.run((api) => api.DELETE('/api/auth/passkeys/{id}', { params })),
                );
                if (result?.ok) onChanged('Passkey removed.');
              }}
            >
              Remove
            </button>
          </div>
        </>
      )}
      <Notice task={task} />
    </li>
  );
}

/** The account's passkeys: list, add (with a name), rename, remove. */
export function Passkeys() {
  const { signedIn } = useSession();
  const list = useTask();
  const add = useTask();
  const [passkeys, setPasskeys] = useState<Passkey[]>();
  const [nickname, setNickname] = useState('');
  const [status, setStatus] = useState<string>();
  const { run } = list;

  const load = useCallback(async () => {
    const result = await run(() => gw.run((api) => api.GET('/api/auth/passkeys')));
    if (result?.ok) setPasskeys(result.data.passkeys);
  }, [run]);

  useEffect(() => {
    void load();
  }, [load]);

  const changed = (message: string) => {
    add.clear();
    setStatus(message);
    void load();
  };

  return (
    <Card title="Passkeys" id="passkeys">
      <p className="aside">Sign in with your fingerprint, face or device PIN instead of a password.</p>
      {passkeys && passkeys.length === 0 && <p className="empty">You have no passkey yet.</p>}
      {passkeys && passkeys.length > 0 && (
        <ul className="rows" aria-label="Your passkeys">
          {passkeys.map((p) => (
            <PasskeyRow key={`${p.id}:${p.nickname}`} passkey={p} onChanged={changed} />
          ))}
        </ul>
      )}
      {status && (
        <p className="notice notice-ok" role="status">
          {status}
        </p>
      )}
      <form
        className="inline"
        onSubmit={async (e) => {
          e.preventDefault();
          setStatus(undefined);
          const result = await add.run(
            () => registerPasskey(gw, { nickname: nickname.trim() || undefined }),
            'Passkey added. It counts as a second factor from your next sign-in.',
          );
          if (result?.ok) {
            signedIn(result.data);
            setNickname('');
            void load();
          }
        }}
      >
        <Field
          label="Name for the new passkey (optional)"
          name="passkey-nickname"
          value={nickname}
          onChange={setNickname}
        />
        <Submit busy={add.busy}>Add a passkey</Submit>
      </form>
      <Notice task={add} />
      <Notice task={list} />
    </Card>
  );
}
