import { useState } from 'react';
import { gw } from '../gateway';
import { useSession } from '../session';
import { Card, Field, Notice, Submit, useTask } from '../ui';

/** Account recovery by a code sent to the address; it signs in and asks for a new password. */
export function Recovery({ onSignIn, onRecovered }: { onSignIn: () => void; onRecovered: () => void }) {
  const { signedIn } = useSession();
  const task = useTask();
  const [email, setEmail] = useState('');
  const [code, setCode] = useState('');
  const [sent, setSent] = useState<string>();

  return (
    <Card title="Recover your account" id="recovery">
      {!sent ? (
        <form
          className="stack"
          onSubmit={async (e) => {
            e.preventDefault();
            const result = await task.run(() =>
              gw.run((api) => api.POST('/api/auth/recovery', { body: { email: email.trim() } })),
            );
            if (result?.ok) {
              setSent(result.data.message);
              task.clear();
            }
          }}
        >
          <Field
            label="E-mail address"
            name="recovery-email"
            type="email"
            value={email}
            onChange={setEmail}
            autoComplete="email"
            required
          />
          <Submit busy={task.busy}>Send me a code</Submit>
        </form>
      ) : (
        <form
          className="stack"
          onSubmit={async (e) => {
            e.preventDefault();
            const result = await task.run(() =>
              gw.run((api) => api.POST('/api/auth/recovery/code', { body: { code: code.trim() } })),
            );
            if (result?.ok) {
              const { removedPasskeys: _removed, ...session } = result.data;
              onRecovered();
              signedIn(session);
            }
          }}
        >
          <p>{sent}</p>
          <Field
            label="Code from the e-mail"
            name="recovery-code"
            value={code}
            onChange={setCode}
            inputMode="numeric"
            autoComplete="one-time-code"
            required
            autoFocus
          />
          <Submit busy={task.busy}>Recover account</Submit>
        </form>
      )}
      <Notice task={task} />
      <p className="aside">
        <button type="button" className="link" onClick={onSignIn}>
          Back to sign-in
        </button>
      </p>
    </Card>
  );
}
