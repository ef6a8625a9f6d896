import { stepUpWithPasskey, type Session } from '@auth-gateway/client';
import { useState } from 'react';
import { gw } from './gateway';
import { SentCode, type CodeChannel } from './SentCode';
import { Field, Notice, Submit, useTask } from './ui';

const METHOD_NAMES: Record<string, string> = {
  passkey: 'a passkey',
  totp: 'your authenticator app',
  lookup_secret: 'a backup code',
  email: 'a code we e-mail you',
  sms: 'a code we text you',
};

type StepUpResult = Awaited<ReturnType<typeof stepUpWithPasskey>>;

const CHANNELS: Record<'email' | 'sms', CodeChannel<Session>> = {
  email: {
    name: 'email-code',
    send: () => gw.run((api) => api.POST('/api/auth/step-up/email/options', { body: {} }), { stepUp: false }),
    sent: 'A code is on its way to your address.',
    sendLabel: 'E-mail me a code',
    verify: (code) =>
      gw.run((api) => api.POST('/api/auth/step-up/email', { body: { code } }), { stepUp: false }),
    fieldLabel: 'Six-digit code from the e-mail',
    formLabel: 'Code from the e-mail',
  },
  sms: {
    name: 'sms-code',
    send: () => gw.run((api) => api.POST('/api/auth/step-up/sms/options', { body: {} }), { stepUp: false }),
    sent: 'A code is on its way to your phone.',
    sendLabel: 'Text me a code',
    verify: (code) =>
      gw.run((api) => api.POST('/api/auth/step-up/sms', { body: { code } }), { stepUp: false }),
    fieldLabel: 'Six-digit code from the text message',
    formLabel: 'Code from the text message',
  },
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
  const usable = methods.filter((m) => m in METHOD_NAMES);

  const finish = (result: StepUpResult | undefined) => {
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
      {usable.includes('email') && <SentCode task={task} channel={CHANNELS.email} onResult={finish} />}
      {usable.includes('sms') && <SentCode task={task} channel={CHANNELS.sms} onResult={finish} />}
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
