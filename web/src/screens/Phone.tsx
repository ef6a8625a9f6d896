import type { Schema } from '@auth-gateway/client';
import { useCallback, useEffect, useState } from 'react';
import { gw } from '../gateway';
import { useSession } from '../session';
import { Card, Field, Notice, Submit, useTask } from '../ui';

/**
 * The phone number card: shown only where the server has an SMS provider (elsewhere GET /phone
 * answers 404). Adding a number texts it a code that proves it; a proven number may then sign
 * in by texted code and, where the server offers it (SMS_CODE_MFA), receive second-factor codes.
 */
export function PhoneNumber() {
  const { signedIn } = useSession();
  const task = useTask();
  const [state, setState] = useState<Schema<'PhoneNumber'>>();
  const [factor, setFactor] = useState<Schema<'EmailFactorStatus'>>();
  const [phone, setPhone] = useState('');
  const [code, setCode] = useState('');
  const [verifying, setVerifying] = useState(false);
  const [factorCode, setFactorCode] = useState('');
  const [confirmingFactor, setConfirmingFactor] = useState(false);

  const load = useCallback(async () => {
    const result = await gw.run((api) => api.GET('/api/auth/phone'), { stepUp: false });
    setState(result.ok ? result.data : undefined);
    const sms = await gw.run((api) => api.GET('/api/auth/mfa/sms'), { stepUp: false });
    setFactor(sms.ok ? sms.data : undefined);
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  if (!state) return null;
  return (
    <Card title="Phone number" id="phone-number">
      <p className="aside">
        A phone number in international format (+15551234567). Texted codes are weaker than a passkey or an
        app: a number can be moved to another SIM card by whoever talks your carrier into it.
      </p>
      {state.phone && (
        <p>
          {state.phone} — {state.verified ? 'verified' : 'not verified yet'}
        </p>
      )}
      {verifying ? (
        <form
          className="stack"
          aria-label="Code from the text message"
          onSubmit={async (e) => {
            e.preventDefault();
            const result = await task.run(
              () => gw.run((api) => api.POST('/api/auth/phone/verify', { body: { code: code.trim() } })),
              'Your phone number is verified.',
            );
            if (result?.ok) {
              setVerifying(false);
              setCode('');
              void load();
            }
          }}
        >
          <Field
            label="Code from the text message"
            name="phone-code"
            value={code}
            onChange={setCode}
            inputMode="numeric"
            autoComplete="one-time-code"
            required
          />
          <Submit busy={task.busy}>Verify number</Submit>
        </form>
      ) : (
        <form
          className="stack"
          aria-label="Set your phone number"
          onSubmit={async (e) => {
            e.preventDefault();
            const result = await task.run(
              () => gw.run((api) => api.POST('/api/auth/phone', { body: { phone: phone.trim() } })),
              'A code is on its way to the number.',
            );
            if (result?.ok) setVerifying(true);
          }}
        >
          <Field
            label="Phone number"
            name="phone"
            type="tel"
            value={phone}
            onChange={setPhone}
            autoComplete="tel"
            required
          />
          <Submit busy={task.busy}>{state.phone ? 'Change number' : 'Add number'}</Submit>
        </form>
      )}
      {state.phone && !verifying && (
        <button
          type="button"
          className="danger"
          disabled={task.busy}
          onClick={async () => {
            if (!window.confirm('Remove your phone number?')) return;
            const result = await task.run(
              () => gw.run((api) => api.DELETE('/api/auth/phone')),
              'Your phone number is removed.',
            );
            if (result?.ok) void load();
          }}
        >
          Remove number
        </button>
      )}
      {factor && state.verified && (
        <div className="stack">
          <p>
            {factor.enabled
              ? 'Texted codes are on as a second factor.'
              : 'Use texted codes as a second factor?'}
          </p>
          {confirmingFactor ? (
            <form
              className="stack"
              aria-label="Code to turn on texted codes"
              onSubmit={async (e) => {
                e.preventDefault();
                const result = await task.run(
                  () =>
                    gw.run((api) =>
                      api.POST('/api/auth/mfa/sms/confirm', { body: { code: factorCode.trim() } }),
                    ),
                  'Texted codes are on. They will be asked for from your next sign-in.',
                );
                if (result?.ok) {
                  setConfirmingFactor(false);
                  setFactorCode('');
                  signedIn(result.data);
                  void load();
                }
              }}
            >
              <Field
                label="Six-digit code from the text message"
                name="sms-factor-code"
                value={factorCode}
                onChange={setFactorCode}
                inputMode="numeric"
                autoComplete="one-time-code"
                required
              />
              <Submit busy={task.busy}>Turn on</Submit>
            </form>
          ) : factor.enabled ? (
            <button
              type="button"
              className="danger"
              disabled={task.busy}
              onClick={async () => {
                if (!window.confirm('Turn off texted codes as a second factor?')) return;
                const result = await task.run(
                  () => gw.run((api) => api.DELETE('/api/auth/mfa/sms')),
                  'Texted codes are off.',
                );
                if (result?.ok) void load();
              }}
            >
              Turn off texted codes
            </button>
          ) : (
            <button
              type="button"
              disabled={task.busy}
              onClick={async () => {
                const result = await task.run(() =>
                  gw.run((api) => api.POST('/api/auth/mfa/sms', { body: {} })),
                );
                if (result?.ok) setConfirmingFactor(true);
              }}
            >
              Turn on texted codes
            </button>
          )}
        </div>
      )}
      <Notice task={task} />
    </Card>
  );
}
