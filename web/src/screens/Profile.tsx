import { useState } from 'react';
import { gw } from '../gateway';
import { useSession } from '../session';
import { Card, Field, Notice, Submit, useTask } from '../ui';

/** Proves the address with a mailed code. */
function Verification({ email }: { email: string }) {
  const { refresh } = useSession();
  const task = useTask();
  const [sent, setSent] = useState(false);
  const [code, setCode] = useState('');
  return (
    <div className="stack" id="verification">
      <p className="notice notice-warn">Your address {email} is not verified yet.</p>
      {!sent ? (
        <button
          type="button"
          disabled={task.busy}
          onClick={async () => {
            const result = await task.run(() =>
              gw.run((api) => api.POST('/api/auth/verification', { body: {} })),
            );
            if (result?.ok) setSent(true);
          }}
        >
          Send me a code
        </button>
      ) : (
        <form
          className="inline"
          onSubmit={async (e) => {
            e.preventDefault();
            const result = await task.run(
              () => gw.run((api) => api.POST('/api/auth/verification/code', { body: { code: code.trim() } })),
              'Your address is verified.',
            );
            if (result?.ok) await refresh();
          }}
        >
          <Field
            label="Code from the e-mail"
            name="verification-code"
            value={code}
            onChange={setCode}
            inputMode="numeric"
            autoComplete="one-time-code"
            required
          />
          <Submit busy={task.busy}>Verify</Submit>
        </form>
      )}
      <Notice task={task} />
    </div>
  );
}

/** The account's e-mail address: change it, verify it. */
export function Profile() {
  const { state, signedIn } = useSession();
  const task = useTask();
  const session = state.status === 'signed-in' ? state.session : undefined;
  const [email, setEmail] = useState(session?.email ?? '');
  if (!session) return null;
  return (
    <Card title="Profile" id="profile">
      {!session.emailVerified && <Verification email={session.email} />}
      <form
        className="stack"
        onSubmit={async (e) => {
          e.preventDefault();
          const traits = { ...session.traits, email: email.trim() };
          const result = await task.run(
            () => gw.run((api) => api.PATCH('/api/auth/profile', { body: { traits } })),
            'Your profile is saved.',
          );
          if (result?.ok) signedIn(result.data);
        }}
      >
        <Field
          label="E-mail address"
          name="profile-email"
          type="email"
          value={email}
          onChange={setEmail}
          autoComplete="email"
          required
        />
        <Submit busy={task.busy}>Save</Submit>
      </form>
      <Notice task={task} />
    </Card>
  );
}
