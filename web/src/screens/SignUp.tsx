import { useState } from 'react';
import { gw } from '../gateway';
import { useSession } from '../session';
import { Card, Field, Notice, Submit, useTask } from '../ui';

/** Sign-up in two steps: the address (and a password, or none for passkey-only), then the mailed code. */
export function SignUp({ onSignIn }: { onSignIn: () => void }) {
  const { signedIn } = useSession();
  const task = useTask();
  const [email, setEmail] = useState('');
  const [usePassword, setUsePassword] = useState(false);
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [sent, setSent] = useState<string>();

  const start = async () => {
    const body = { email: email.trim(), ...(usePassword ? { password } : {}) };
    const result = await task.run(() => gw.run((api) => api.POST('/api/auth/register', { body })));
    if (result?.ok) {
      setSent(result.data.message);
      task.clear();
    }
  };

  const confirm = async () => {
    const body = { email: email.trim(), code: code.trim(), ...(usePassword ? { password } : {}) };
    const result = await task.run(() => gw.run((api) => api.POST('/api/auth/register/confirm', { body })));
    if (result?.ok) signedIn(result.data);
  };

  return (
    <Card title="Create your account" id="sign-up">
      {!sent ? (
        <form
          className="stack"
          onSubmit={(e) => {
            e.preventDefault();
            void start();
          }}
        >
          <Field
            label="E-mail address"
            name="email"
            type="email"
            value={email}
            onChange={setEmail}
            autoComplete="email"
            required
          />
          <fieldset className="choice">
            <legend>How do you want to sign in?</legend>
            <label>
              <input
                type="radio"
                name="method"
                checked={!usePassword}
                onChange={() => setUsePassword(false)}
              />
              With a passkey only (no password to remember)
            </label>
            <label>
              <input type="radio" name="method" checked={usePassword} onChange={() => setUsePassword(true)} />
              With a password
            </label>
          </fieldset>
          {usePassword && (
            <Field
              label="Password"
              name="new-password"
              type="password"
              value={password}
              onChange={setPassword}
              autoComplete="new-password"
              minLength={12}
              required
              hint="At least 12 characters."
            />
          )}
          <Submit busy={task.busy}>Send me a code</Submit>
        </form>
      ) : (
        <form
          className="stack"
          onSubmit={(e) => {
            e.preventDefault();
            void confirm();
          }}
        >
          <p>{sent}</p>
          <Field
            label="Six-digit code"
            name="signup-code"
            value={code}
            onChange={setCode}
            inputMode="numeric"
            autoComplete="one-time-code"
            required
            autoFocus
          />
          <Submit busy={task.busy}>Create account</Submit>
          <button
            type="button"
            className="link"
            onClick={() => {
              setSent(undefined);
              setCode('');
              task.clear();
            }}
          >
            Use another address
          </button>
        </form>
      )}
      <Notice task={task} />
      <p className="aside">
        Already have an account?{' '}
        <button type="button" className="link" onClick={onSignIn}>
          Sign in
        </button>
      </p>
    </Card>
  );
}
