import { stepUpWithPasskey, type Session } from '@auth-gateway/client';
import { useState } from 'react';
import { gw } from './gateway';
import { Field, Notice, Submit, useTask } from './ui';

const METHOD_NAMES: Record<string, string> = {
  passkey: 'a passkey',
  totp: 'your authenticator app',
  lookup_secret: 'a backup code',
  email: 'a code we e-mail you',
  sms: 'a code we text you',
};

/**
 * Completes a second factor with whichever of `methods` the user picks: passkey, app code,
 * backup code, or an e-mailed or texted code.
 */
export function SecondFactorForm({
  methods,
  onDone,
}: {
  methods: string[];
  onDone: (session: Session) => void;
}) {
  const task = useTask();
  const [code, setCode] = useState('');
  const [backup, setBackup] = useState('');
  const [emailed, setEmailed] = useState('');
  const [emailSent, setEmailSent] = useState(false);
  const [texted, setTexted] = useState('');
  const [smsSent, setSmsSent] = useState(false);
  const usable = methods.filter((m) => m in METHOD_NAMES);

  const finish = (result: Awaited<ReturnType<typeof stepUpWithPasskey>> | undefined) => {
    if (result?.ok) onDone(result.data);
  };

  if (usable.length === 0)
    return (
      <p className="notice notice-error" role="alert">
        No second factor can be used from this session. If you just added one, it counts from your next
        sign-in: sign out and sign in again.
      </p>
    );

  return (
    <div className="stack" data-testid="second-factor">
      <p>Confirm it’s you with {usable.map((m) => METHOD_NAMES[m]).join(' or ')}.</p>
      {usable.includes('passkey') && (
        <button
          type="button"
          className="primary"
          disabled={task.busy}
          onClick={async () => finish(await task.run(() => stepUpWithPasskey(gw)))}
        >
          Use a passkey
        </button>
      )}
      {usable.includes('totp') && (
        <form
          className="stack"
          aria-label="Code from your authenticator app"
          onSubmit={async (e) => {
            e.preventDefault();
            finish(
              await task.run(() =>
                gw.run((api) => api.POST('/api/auth/step-up/totp', { body: { code: code.trim() } }), {
                  stepUp: false,
                }),
              ),
            );
          }}
        >
          <Field
            label="Six-digit code from your authenticator app"
            name="totp-code"
            value={code}
            onChange={setCode}
            inputMode="numeric"
            autoComplete="one-time-code"
            required
          />
          <Submit busy={task.busy}>Verify code</Submit>
        </form>
      )}
      {usable.includes('email') &&
        (emailSent ? (
          <form
            className="stack"
            aria-label="Code from the e-mail"
            onSubmit={async (e) => {
              e.preventDefault();
              finish(
                await task.run(() =>
                  gw.run((api) => api.POST('/api/auth/step-up/email', { body: { code: emailed.trim() } }), {
                    stepUp: false,
                  }),
                ),
              );
            }}
          >
            <Field
              label="Six-digit code from the e-mail"
              name="email-code"
              value={emailed}
              onChange={setEmailed}
              inputMode="numeric"
              autoComplete="one-time-code"
              required
            />
            <Submit busy={task.busy}>Verify code</Submit>
          </form>
        ) : (
          <button
            type="button"
            disabled={task.busy}
            onClick={async () => {
              const result = await task.run(
                () =>
                  gw.run((api) => api.POST('/api/auth/step-up/email/options', { body: {} }), {
                    stepUp: false,
                  }),
                'A code is on its way to your address.',
              );
              if (result?.ok) setEmailSent(true);
            }}
          >
            E-mail me a code
          </button>
        ))}
      {usable.includes('sms') &&
        (smsSent ? (
          <form
            className="stack"
            aria-label="Code from the text message"
            onSubmit={async (e) => {
              e.preventDefault();
              finish(
                await task.run(() =>
                  gw.run((api) => api.POST('/api/auth/step-up/sms', { body: { code: texted.trim() } }), {
                    stepUp: false,
                  }),
                ),
              );
            }}
          >
            <Field
              label="Six-digit code from the text message"
              name="sms-code"
              value={texted}
              onChange={setTexted}
              inputMode="numeric"
              autoComplete="one-time-code"
              required
            />
            <Submit busy={task.busy}>Verify code</Submit>
          </form>
        ) : (
          <button
            type="button"
            disabled={task.busy}
            onClick={async () => {
              const result = await task.run(
                () =>
                  gw.run((api) => api.POST('/api/auth/step-up/sms/options', { body: {} }), {
                    stepUp: false,
                  }),
                'A code is on its way to your phone.',
              );
              if (result?.ok) setSmsSent(true);
            }}
          >
            Text me a code
          </button>
        ))}
      {usable.includes('lookup_secret') && (
        <details>
          <summary>Use a backup code instead</summary>
          <form
            className="stack"
            aria-label="Backup code"
            onSubmit={async (e) => {
              e.preventDefault();
              finish(
                await task.run(() =>
                  gw.run(
                    (api) => api.POST('/api/auth/step-up/backup-code', { body: { code: backup.trim() } }),
                    {
                      stepUp: false,
                    },
                  ),
                ),
              );
            }}
          >
            <Field label="Backup code" name="backup-code" value={backup} onChange={setBackup} required />
            <Submit busy={task.busy}>Use backup code</Submit>
          </form>
        </details>
      )}
      <Notice task={task} />
    </div>
  );
}
