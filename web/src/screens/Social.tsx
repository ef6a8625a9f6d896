import {
  socialSignInUrl,
  type Result,
  type Schema,
  type Session,
  type SocialOutcome,
} from '@auth-gateway/client';
import { useCallback, useEffect, useState } from 'react';
import { gw } from '../gateway';
import { SentCode, type CodeChannel } from '../SentCode';
import { useSession } from '../session';
import { Card, Field, Notice, Submit, useTask } from '../ui';

type Provider = Schema<'SocialProviders'>['providers'][number];

/** The social sign-in providers the deployment offers (none where it is off). */
export function useSocialProviders(): Provider[] {
  const [providers, setProviders] = useState<Provider[]>([]);
  useEffect(() => {
    let active = true;
    void gw
      .run((api) => api.GET('/api/auth/social-providers'), { stepUp: false })
      .then((result) => active && result.ok && setProviders(result.data.providers));
    return () => {
      active = false;
    };
  }, []);
  return providers;
}

/** "Sign in with …" links: the gateway sends the browser to the provider and back. */
export function SocialButtons({ providers }: { providers: Provider[] }) {
  if (providers.length === 0) return null;
  return (
    <div className="stack" aria-label="Sign in with another account">
      {providers.map((p) => (
        <a key={p.id} className="button" href={socialSignInUrl(gw, p.id)}>
          Sign in with {p.label}
        </a>
      ))}
    </div>
  );
}

/** The providers linked to the account: each can be unlinked, unless it is the last way in. */
export function SocialLinks() {
  const providers = useSocialProviders();
  const task = useTask();
  const [linked, setLinked] = useState<string[]>();
  const load = useCallback(async () => {
    const result = await gw.run((api) => api.GET('/api/auth/social-links'));
    if (result.ok) setLinked(result.data.providers);
  }, []);
  useEffect(() => {
    void load();
  }, [load]);
  if (providers.length === 0) return null;
  return (
    <Card title="Sign-in providers" id="social">
      <p>
        Sign in with another account you have. A provider account is linked when it uses this account’s e-mail
        address: sign in with it, and confirm with your password.
      </p>
      <ul className="rows" aria-label="Sign-in providers">
        {providers.map((p) => (
          <li key={p.id} className="row" data-testid="social-provider">
            <span>
              {p.label}: {linked?.includes(p.id) ? 'linked' : 'not linked'}
            </span>{' '}
            {linked?.includes(p.id) ? (
              <button
                type="button"
                disabled={task.busy}
                onClick={async () => {
                  const result = await task.run(
                    () =>
                      gw.run((api) =>
                        api.DELETE('/api/auth/social-links/{provider}', {
                          params: { path: { provider: p.id } },
                        }),
                      ),
                    `${p.label} is unlinked.`,
                  );
                  if (result?.ok) await load();
                }}
              >
                Unlink
              </button>
            ) : (
              <a className="button" href={socialSignInUrl(gw, p.id)}>
                Link {p.label}
              </a>
            )}
          </li>
        ))}
      </ul>
      <Notice task={task} />
    </Card>
  );
}

/** Linking by a code Kratos mails to the address the provider asserted. */
const linkByCode = (label: string): CodeChannel<Session> => ({
  name: 'link-code',
  send: () => gw.run((api) => api.POST('/api/auth/social-links/code', { body: {} }), { stepUp: false }),
  sent: 'A code is on its way to that address. Enter it below.',
  sendLabel: 'No password? E-mail me a code',
  verify: (code) =>
    gw.run((api) => api.POST('/api/auth/social-links/code/verify', { body: { code } }), { stepUp: false }),
  fieldLabel: 'Code from the e-mail',
  formLabel: `Link ${label} with a code`,
  submitLabel: `Link ${label} with the code`,
});

/**
 * After a social sign-in that signed nobody in: why, and for a provider account whose address
 * is an existing account's, the form that links it with that account's password.
 */
export function SocialOutcomeNotice({ outcome, onClose }: { outcome: SocialOutcome; onClose: () => void }) {
  const providers = useSocialProviders();
  const { signedIn } = useSession();
  const task = useTask();
  const [password, setPassword] = useState('');
  if (outcome.status === 'failed')
    return (
      <p className="notice notice-error" role="alert">
        {outcome.reason === 'expired'
          ? 'Signing in with the provider took too long. Start again.'
          : 'The provider did not sign you in (its account needs a verified e-mail address). Try again or sign in another way.'}{' '}
        <button type="button" className="link" onClick={onClose}>
          Dismiss
        </button>
      </p>
    );
  const label = providers.find((p) => p.id === outcome.provider)?.label ?? outcome.provider;
  // A refusal (a wrong password or code; an account with a second factor, which links only
  // from a session that passed it) stays on this card with its message.
  const settle = (result: Result<Session> | undefined) => {
    if (!result?.ok) return;
    onClose();
    signedIn(result.data);
  };
  return (
    <Card title={`Link ${label}`} id="social-link">
      <form
        className="stack"
        onSubmit={async (e) => {
          e.preventDefault();
          settle(
            await task.run(() =>
              gw.run((api) => api.POST('/api/auth/social-links', { body: { password } }), { stepUp: false }),
            ),
          );
        }}
      >
        <p>
          An account with the e-mail address of your {label} account already exists. Enter its password to
          link {label} to it; you can then sign in with either.
        </p>
        <Field
          label="Password of the existing account"
          name="link-password"
          type="password"
          value={password}
          onChange={setPassword}
          autoComplete="current-password"
          required
        />
        <Submit busy={task.busy}>Link {label}</Submit>
      </form>
      <SentCode task={task} channel={linkByCode(label)} onResult={settle} />
      <button type="button" className="link" onClick={onClose}>
        Not now
      </button>
      <Notice task={task} />
    </Card>
  );
}
