import type { Schema } from '@auth-gateway/client';
import { useCallback, useEffect, useState } from 'react';
import { gw } from '../gateway';
import { useSession } from '../session';
import { Card, Field, Notice, Submit, useTask } from '../ui';
import { Passkeys } from './Passkeys';
import { PhoneNumber } from './Phone';
import { SocialLinks } from './Social';

/** Sets a new password (also the way out of "password change required" and after a recovery). */
export function PasswordForm({ intro }: { intro?: string }) {
  const { signedIn } = useSession();
  const task = useTask();
  const [password, setPassword] = useState('');
  return (
    <Card title="Password" id="password">
      {intro && <p>{intro}</p>}
      <form
        className="stack"
        onSubmit={async (e) => {
          e.preventDefault();
          const result = await task.run(
            () => gw.run((api) => api.POST('/api/auth/password', { body: { password } })),
            'Your password is changed.',
          );
          if (result?.ok) {
            setPassword('');
            signedIn(result.data);
          }
        }}
      >
        <Field
          label="New password"
          name="change-password"
          type="password"
          value={password}
          onChange={setPassword}
          autoComplete="new-password"
          minLength={12}
          required
          hint="At least 12 characters."
        />
        <Submit busy={task.busy}>Change password</Submit>
      </form>
      <Notice task={task} />
    </Card>
  );
}

/** TOTP: set-up with the QR code and a confirming code, and removal. */
/** The authenticator app: set up (and, unless `enrolOnly`, removed). */
export function AuthenticatorApp({ enrolOnly = false }: { enrolOnly?: boolean }) {
  const { signedIn } = useSession();
  const task = useTask();
  const [enrollment, setEnrollment] = useState<Schema<'TotpEnrollment'>>();
  const [code, setCode] = useState('');

  if (enrollment)
    return (
      <Card title="Authenticator app" id="totp">
        <ol className="steps">
          <li>Scan this code with your authenticator app.</li>
        </ol>
        <img
          className="qr"
          src={enrollment.qrCode}
          alt="QR code to scan with your authenticator app"
          width={200}
          height={200}
        />
        <p className="aside">
          Can’t scan it? Enter this key: <code data-testid="totp-secret">{enrollment.secret}</code>
        </p>
        <form
          className="stack"
          onSubmit={async (e) => {
            e.preventDefault();
            const result = await task.run(
              () => gw.run((api) => api.POST('/api/auth/mfa/totp/confirm', { body: { code: code.trim() } })),
              'Your authenticator app is set up. It will be asked for from your next sign-in.',
            );
            if (result?.ok) {
              setEnrollment(undefined);
              setCode('');
              signedIn(result.data);
            }
          }}
        >
          <Field
            label="Six-digit code from the app"
            name="totp-confirm"
            value={code}
            onChange={setCode}
            inputMode="numeric"
            autoComplete="one-time-code"
            required
          />
          <Submit busy={task.busy}>Turn on</Submit>
          <button type="button" className="link" onClick={() => setEnrollment(undefined)}>
            Cancel
          </button>
        </form>
        <Notice task={task} />
      </Card>
    );

  return (
    <Card title="Authenticator app" id="totp">
      <p className="aside">
        Codes from an app such as Google Authenticator or 1Password, as a second factor.
      </p>
      <div className="actions">
        <button
          type="button"
          className="primary"
          disabled={task.busy}
          onClick={async () => {
            const result = await task.run(() => gw.run((api) => api.POST('/api/auth/mfa/totp')));
            if (result?.ok) {
              task.clear();
              setEnrollment(result.data);
            }
          }}
        >
          Set up an authenticator app
        </button>
        <button
          type="button"
          className="danger"
          hidden={enrolOnly}
          disabled={task.busy}
          onClick={async () => {
            if (!window.confirm('Remove your authenticator app?')) return;
            await task.run(
              () => gw.run((api) => api.DELETE('/api/auth/mfa/totp')),
              'Authenticator app removed.',
            );
          }}
        >
          Remove
        </button>
      </div>
      <Notice task={task} />
    </Card>
  );
}

/**
 * E-mailed codes as a second factor: shown only where the server offers them (EMAIL_CODE_MFA;
 * elsewhere GET /mfa/email answers 404). Turning them on proves the address with a mailed code.
 */
export function EmailCodes({ enrolOnly = false }: { enrolOnly?: boolean }) {
  const { signedIn } = useSession();
  const task = useTask();
  const [state, setState] = useState<Schema<'EmailFactorStatus'>>();
  const [confirming, setConfirming] = useState(false);
  const [code, setCode] = useState('');

  const load = useCallback(async () => {
    const result = await gw.run((api) => api.GET('/api/auth/mfa/email'), { stepUp: false });
    setState(result.ok ? result.data : undefined);
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  if (!state) return null;
  return (
    <Card title="E-mail codes as a second factor" id="email-codes">
      <p className="aside">
        A code mailed to {state.address} confirms it’s you after your password. Weaker than a passkey or an
        app: anyone who can read your mail can use it.
      </p>
      {state.enabled && <p>E-mailed codes are on.</p>}
      {!state.addressVerified && <p>Verify your e-mail address first.</p>}
      {confirming ? (
        <form
          className="stack"
          aria-label="Code from the e-mail"
          onSubmit={async (e) => {
            e.preventDefault();
            const result = await task.run(
              () => gw.run((api) => api.POST('/api/auth/mfa/email/confirm', { body: { code: code.trim() } })),
              'E-mailed codes are on. They will be asked for from your next sign-in.',
            );
            if (result?.ok) {
              setConfirming(false);
              setCode('');
              signedIn(result.data);
              void load();
            }
          }}
        >
          <Field
            label="Six-digit code from the e-mail"
            name="email-factor-code"
            value={code}
            onChange={setCode}
            inputMode="numeric"
            autoComplete="one-time-code"
            required
          />
          <Submit busy={task.busy}>Turn on</Submit>
          <button type="button" className="link" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <div className="actions">
          {!state.enabled && (
            <button
              type="button"
              className="primary"
              disabled={task.busy || !state.addressVerified}
              onClick={async () => {
                const result = await task.run(() =>
                  gw.run((api) => api.POST('/api/auth/mfa/email', { body: {} })),
                );
                if (result?.ok) setConfirming(true);
              }}
            >
              Turn on e-mailed codes
            </button>
          )}
          {state.enabled && !enrolOnly && (
            <button
              type="button"
              className="danger"
              disabled={task.busy}
              onClick={async () => {
                if (!window.confirm('Turn off e-mailed codes as a second factor?')) return;
                const result = await task.run(
                  () => gw.run((api) => api.DELETE('/api/auth/mfa/email')),
                  'E-mailed codes are off.',
                );
                if (result?.ok) void load();
              }}
            >
              Turn off
            </button>
          )}
        </div>
      )}
      <Notice task={task} />
    </Card>
  );
}

/** Twelve new backup codes, shown once. */
function BackupCodes() {
  const task = useTask();
  const [codes, setCodes] = useState<string[]>();
  return (
    <Card title="Backup codes" id="backup-codes">
      <p className="aside">
        One-time codes for when you have neither your passkey nor your app. New codes replace the old ones.
      </p>
      {codes && (
        <>
          <p>Keep these somewhere safe. They are shown only now.</p>
          <ol className="codes" aria-label="Your backup codes">
            {codes.map((c) => (
              <li key={c}>
                <code>{c}</code>
              </li>
            ))}
          </ol>
        </>
      )}
      <button
        type="button"
        disabled={task.busy}
        onClick={async () => {
          const result = await task.run(() => gw.run((api) => api.POST('/api/auth/mfa/backup-codes')));
          if (result?.ok) setCodes(result.data.codes);
        }}
      >
        {codes ? 'Make new codes' : 'Show new backup codes'}
      </button>
      <Notice task={task} />
    </Card>
  );
}

export function Security({ recovered }: { recovered: boolean }) {
  return (
    <div className="grid">
      {recovered && (
        <p className="notice notice-ok" role="status">
          You’re back in. Set a new password now.
        </p>
      )}
      <Passkeys />
      <AuthenticatorApp />
      <EmailCodes />
      <PhoneNumber />
      <BackupCodes />
      <PasswordForm />
      <SocialLinks />
    </div>
  );
}
