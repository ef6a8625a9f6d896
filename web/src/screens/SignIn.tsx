import {
  cancelPasskeyAutofill,
  signInWithPasskey,
  signInWithPasskeyAutofill,
  type Result,
  type Schema,
  type Session,
} from '@auth-gateway/client';
import { useEffect, useState } from 'react';
import { gw } from '../gateway';
import { methodsOf, useSession } from '../session';
import { Card, errorText, Field, Notice, Submit, useTask } from '../ui';
import { SocialButtons, useSocialProviders } from './Social';

/**
 * Unified sign-in: the browser offers saved passkeys in the e-mail field's autofill right away;
 * otherwise the user names the account, then picks a passkey, a password or (when the
 * deployment enables them) a code e-mailed to the address or texted to the account's phone number.
 */
export function SignIn({ onSignUp, onRecover }: { onSignUp: () => void; onRecover: () => void }) {
  const { signedIn, secondFactorOwed, refresh } = useSession();
  const task = useTask();
  const [identifier, setIdentifier] = useState('');
  const [password, setPassword] = useState('');
  const [identified, setIdentified] = useState<Schema<'IdentifyAnswer'>>();
  const [codeSent, setCodeSent] = useState(false);
  const [code, setCode] = useState('');
  const [phone, setPhone] = useState('');
  const [smsSent, setSmsSent] = useState(false);
  const [smsCode, setSmsCode] = useState('');
  const { fail } = task;
  const providers = useSocialProviders();

  // Conditional UI: runs in the background until a passkey is picked or the form changes.
  useEffect(() => {
    if (identified) return;
    let active = true;
    void signInWithPasskeyAutofill(gw).then((result) => {
      if (!active || !result) return;
      if (result.ok) signedIn(result.data);
      // The browser's own cancellations (another ceremony, leaving the page) are no error.
      else if (result.error.kind !== 'webauthn') fail(errorText(result.error));
    });
    return () => {
      active = false;
      cancelPasskeyAutofill();
    };
  }, [identified, signedIn, fail]);

  const identify = async () => {
    const result = await task.run(() =>
      gw.run((api) => api.POST('/api/auth/identify', { body: { identifier: identifier.trim() } }), {
        stepUp: false,
      }),
    );
    if (result?.ok) setIdentified(result.data);
  };

  const withPassword = async () => {
    const result = await task.run(() =>
      gw.run(
        (api) => api.POST('/api/auth/login/password', { body: { identifier: identifier.trim(), password } }),
        { stepUp: false },
      ),
    );
    settle(result);
  };

  /** The answer of a sign-in that may still owe the account's second factor. */
  const settle = (result: Result<Session> | undefined) => {
    if (!result) return;
    if (result.ok) return signedIn(result.data);
    const { error } = result;
    if (error.kind === 'api' && error.code === 'aal2_required') {
      task.clear();
      secondFactorOwed(methodsOf(error.details));
    }
    // Signed in, but the policy's second factor is overdue: the app asks for it.
    if (error.kind === 'api' && error.code === 'mfa_enrollment_required') {
      task.clear();
      void refresh();
    }
  };

  const sendCode = async () => {
    const result = await task.run(
      () =>
        gw.run((api) => api.POST('/api/auth/login/code', { body: { identifier: identifier.trim() } }), {
          stepUp: false,
        }),
      'If this address has an account, a code is on its way. Enter it below.',
    );
    if (result?.ok) setCodeSent(true);
  };

  const withCodeCall = () =>
    gw.run((api) => api.POST('/api/auth/login/code/verify', { body: { code: code.trim() } }), {
      stepUp: false,
    });

  const withCode = async () => settle(await task.run(withCodeCall));

  const sendSms = async () => {
    const result = await task.run(
      () =>
        gw.run((api) => api.POST('/api/auth/login/sms', { body: { phone: phone.trim() } }), {
          stepUp: false,
        }),
      'If this number belongs to an account, a code is on its way. Enter it below.',
    );
    if (result?.ok) setSmsSent(true);
  };

  const withSms = async () =>
    settle(
      await task.run(() =>
        gw.run((api) => api.POST('/api/auth/login/sms/verify', { body: { code: smsCode.trim() } }), {
          stepUp: false,
        }),
      ),
    );

  const withPasskey = async () => {
    // Fresh options at the click: the autofill request, cancelled by now, may have been answered
    // at the gateway after `identify`, and only the newest sign-in challenge of a browser counts.
    const result = await task.run(() =>
      signInWithPasskey(gw, identified ? { identifier: identifier.trim() } : {}),
    );
    if (result?.ok) signedIn(result.data);
  };

  return (
    <Card title="Sign in" id="sign-in">
      {!identified ? (
        <form
          className="stack"
          onSubmit={(e) => {
            e.preventDefault();
            void identify();
          }}
        >
          <Field
            label="E-mail address"
            name="identifier"
            type="email"
            value={identifier}
            onChange={setIdentifier}
            autoComplete="username webauthn"
            required
            hint="Saved passkeys for this site appear in the suggestions."
          />
          <Submit busy={task.busy}>Continue</Submit>
          <button type="button" disabled={task.busy} onClick={() => void withPasskey()}>
            Sign in with a saved passkey
          </button>
          <SocialButtons providers={providers} />
        </form>
      ) : (
        <div className="stack">
          <p className="identified">
            Signing in as <strong>{identifier.trim()}</strong>{' '}
            <button
              type="button"
              className="link"
              onClick={() => {
                setIdentified(undefined);
                setPassword('');
                setCodeSent(false);
                setCode('');
                setSmsSent(false);
                setSmsCode('');
                task.clear();
              }}
            >
              Use another account
            </button>
          </p>
          {identified.methods.includes('passkey') && (
            <button type="button" className="primary" disabled={task.busy} onClick={() => void withPasskey()}>
              Sign in with a passkey
            </button>
          )}
          {identified.methods.includes('password') && (
            <form
              className="stack"
              aria-label="Sign in with your password"
              onSubmit={(e) => {
                e.preventDefault();
                void withPassword();
              }}
            >
              <input
                type="email"
                name="username"
                autoComplete="username"
                value={identifier}
                readOnly
                hidden
              />
              <Field
                label="Password"
                name="password"
                type="password"
                value={password}
                onChange={setPassword}
                autoComplete="current-password"
                required
                autoFocus
              />
              <Submit busy={task.busy}>Sign in with password</Submit>
            </form>
          )}
          {identified.methods.includes('code') &&
            (!codeSent ? (
              <button type="button" disabled={task.busy} onClick={() => void sendCode()}>
                E-mail me a code
              </button>
            ) : (
              <form
                className="stack"
                aria-label="Sign in with the code from your e-mail"
                onSubmit={(e) => {
                  e.preventDefault();
                  void withCode();
                }}
              >
                <Field
                  label="Code from the e-mail"
                  name="code"
                  value={code}
                  onChange={setCode}
                  autoComplete="one-time-code"
                  inputMode="numeric"
                  required
                  autoFocus
                />
                <Submit busy={task.busy}>Sign in with the code</Submit>
              </form>
            ))}
          {identified.methods.includes('sms_code') &&
            (!smsSent ? (
              <form
                className="stack"
                aria-label="Sign in with a code texted to your phone"
                onSubmit={(e) => {
                  e.preventDefault();
                  void sendSms();
                }}
              >
                <Field
                  label="Your verified phone number"
                  name="phone"
                  type="tel"
                  value={phone}
                  onChange={setPhone}
                  autoComplete="tel"
                  required
                  hint="International format, e.g. +15551234567."
                />
                <Submit busy={task.busy}>Text me a code</Submit>
              </form>
            ) : (
              <form
                className="stack"
                aria-label="Sign in with the code from the text message"
                onSubmit={(e) => {
                  e.preventDefault();
                  void withSms();
                }}
              >
                <Field
                  label="Code from the text message"
                  name="sms-code"
                  value={smsCode}
                  onChange={setSmsCode}
                  autoComplete="one-time-code"
                  inputMode="numeric"
                  required
                  autoFocus
                />
                <Submit busy={task.busy}>Sign in with the code</Submit>
              </form>
            ))}
        </div>
      )}
      <Notice task={task} />
      <p className="aside">
        New here?{' '}
        <button type="button" className="link" onClick={onSignUp}>
          Create an account
        </button>{' '}
        ·{' '}
        <button type="button" className="link" onClick={onRecover}>
          Forgot your password?
        </button>
      </p>
    </Card>
  );
}
