import { registerPasskey, socialOutcome } from '@auth-gateway/client';
import { useEffect, useState } from 'react';
import { gw } from './gateway';
import { Jars } from './screens/Jars';
import { Profile } from './screens/Profile';
import { Recovery } from './screens/Recovery';
import { AuthenticatorApp, EmailCodes, PasswordForm, Security } from './screens/Security';
import { SocialOutcomeNotice } from './screens/Social';
import { Sessions } from './screens/Sessions';
import { SignIn } from './screens/SignIn';
import { SignUp } from './screens/SignUp';
import { SecondFactorForm } from './SecondFactor';
import { useSession } from './session';
import { StepUpDialog } from './StepUp';
import { Card, Notice, useTask } from './ui';

type Tab = 'jars' | 'security' | 'sessions' | 'profile';
const TABS: { id: Tab; label: string }[] = [
  { id: 'jars', label: 'Honey Jars' },
  { id: 'security', label: 'Security' },
  { id: 'sessions', label: 'Devices' },
  { id: 'profile', label: 'Profile' },
];

/** A passwordless sign-up registers its first passkey before anything else. */
/** A card that registers a passkey for this session, or signs out. */
function AddPasskey({ title, id, intro }: { title: string; id: string; intro: string }) {
  const { signedIn, signOut } = useSession();
  const task = useTask();
  return (
    <Card title={title} id={id}>
      <p>{intro}</p>
      <button
        type="button"
        className="primary"
        disabled={task.busy}
        onClick={async () => {
          const result = await task.run(() => registerPasskey(gw));
          if (result?.ok) signedIn(result.data);
        }}
      >
        Add a passkey
      </button>
      <Notice task={task} />
      <button type="button" className="link" onClick={() => void signOut()}>
        Sign out
      </button>
    </Card>
  );
}

function FinishSignUp() {
  return (
    <AddPasskey
      title="One more step: add your passkey"
      id="finish-sign-up"
      intro="Your account signs in with a passkey: your fingerprint, face or device PIN. Add it now to finish."
    />
  );
}

/** The policy's second factor is overdue: only enrolment (or signing out) goes on from here. */
function EnrolSecondFactor() {
  return (
    <>
      <AddPasskey
        title="Add a second factor to go on"
        id="enrol-second-factor"
        intro="This account must have a second factor: a passkey (your fingerprint, face or device PIN) or an authenticator app. Add one now; it is asked for from your next sign-in."
      />
      <AuthenticatorApp enrolOnly />
      <EmailCodes enrolOnly />
    </>
  );
}

function SignedOut({ onRecovered }: { onRecovered: () => void }) {
  const [screen, setScreen] = useState<'sign-in' | 'sign-up' | 'recovery'>('sign-in');
  if (screen === 'sign-up') return <SignUp onSignIn={() => setScreen('sign-in')} />;
  if (screen === 'recovery')
    return <Recovery onSignIn={() => setScreen('sign-in')} onRecovered={onRecovered} />;
  return <SignIn onSignUp={() => setScreen('sign-up')} onRecover={() => setScreen('recovery')} />;
}

export function App() {
  const { state, signedIn, signOut, refresh } = useSession();
  const [tab, setTab] = useState<Tab>('jars');
  const [recovered, setRecovered] = useState(false);
  const session = state.status === 'signed-in' ? state.session : undefined;
  // How a social sign-in that signed nobody in ended: read once, then taken off the address bar.
  const [social, setSocial] = useState(() => socialOutcome(window.location.search));
  useEffect(() => {
    if (window.location.search.includes('social='))
      window.history.replaceState(null, '', window.location.pathname);
  }, []);

  let main;
  if (state.status === 'loading') main = <p className="loading">Loading…</p>;
  else if (state.status === 'error')
    main = (
      <Card title="We can’t reach the service" id="unavailable">
        <p>{state.message}</p>
        <button type="button" className="primary" onClick={() => void refresh()}>
          Try again
        </button>
      </Card>
    );
  else if (state.status === 'signed-out')
    main = (
      <SignedOut
        onRecovered={() => {
          setRecovered(true);
          setTab('security');
        }}
      />
    );
  else if (state.status === 'second-factor')
    main = (
      <Card title="Confirm it’s you" id="second-factor">
        <SecondFactorForm methods={state.methods} onDone={signedIn} />
        <button type="button" className="link" onClick={() => void signOut()}>
          Sign out
        </button>
      </Card>
    );
  else if (state.status === 'enrol') main = <EnrolSecondFactor />;
  else if (session?.passkeyEnrollmentRequired) main = <FinishSignUp />;
  else if (session?.passwordChangeRequired)
    main = <PasswordForm intro="Your password must be changed before you go on." />;
  else
    main = (
      <>
        {session?.mfaEnrollmentDueAt && (
          <p className="notice" role="status" id="mfa-due">
            Add a second factor (a passkey or an authenticator app) by{' '}
            {new Date(session.mfaEnrollmentDueAt).toLocaleDateString()}: after that this account can only add
            one or sign out.
          </p>
        )}
        <nav className="tabs" aria-label="Sections">
          {TABS.map((t) => (
            <button
              key={t.id}
              type="button"
              aria-current={tab === t.id ? 'page' : undefined}
              className={tab === t.id ? 'tab active' : 'tab'}
              onClick={() => setTab(t.id)}
            >
              {t.label}
            </button>
          ))}
        </nav>
        {tab === 'jars' && <Jars />}
        {tab === 'security' && <Security recovered={recovered} />}
        {tab === 'sessions' && <Sessions />}
        {tab === 'profile' && <Profile />}
      </>
    );

  return (
    <div className="app" data-state={state.status} data-aal={session?.aal}>
      <header className="topbar">
        <span className="brand">
          <img src="/favicon.svg" alt="" width={28} height={28} /> Honey Jars
        </span>
        {session && (
          <span className="who">
            <span className="email" data-testid="signed-in-as">
              {session.email}
            </span>
            <span className={session.aal === 'aal2' ? 'badge strong' : 'badge'} title="Sign-in strength">
              {session.aal === 'aal2' ? 'Two-factor' : 'One factor'}
            </span>
            <button type="button" className="link" onClick={() => void signOut()}>
              Sign out
            </button>
          </span>
        )}
      </header>
      <main>
        {social && (state.status === 'signed-out' || state.status === 'signed-in') && (
          <SocialOutcomeNotice outcome={social} onClose={() => setSocial(undefined)} />
        )}
        {main}
      </main>
      <StepUpDialog />
    </div>
  );
}
