import { useEffect, useState } from 'react';
import { gw } from './gateway';
import { SecondFactorForm } from './SecondFactor';
import { methodsOf, useSession } from './session';

interface Prompt {
  message: string;
  methods: string[];
  resolve: (raised: boolean) => void;
}

/**
 * When any call is answered 403 `aal2_required`, asks for a second factor in a dialog; once the
 * session is at aal2 the client makes the call again, so the user's action simply goes on.
 */
export function StepUpDialog() {
  const { signedIn } = useSession();
  const [prompt, setPrompt] = useState<Prompt>();

  useEffect(() => {
    gw.setStepUpHandler(
      (error) =>
        new Promise<boolean>((resolve) =>
          setPrompt({ message: error.message, methods: methodsOf(error.details), resolve }),
        ),
    );
    return () => gw.setStepUpHandler(undefined);
  }, []);

  if (!prompt) return null;
  const close = (raised: boolean) => {
    setPrompt(undefined);
    prompt.resolve(raised);
  };
  return (
    <div className="overlay">
      <div className="dialog card" role="dialog" aria-modal="true" aria-labelledby="step-up-title">
        <h2 id="step-up-title">Confirm it’s you</h2>
        <p>{prompt.message}</p>
        <SecondFactorForm
          methods={prompt.methods}
          onDone={(session) => {
            signedIn(session);
            close(true);
          }}
        />
        <button type="button" className="link" onClick={() => close(false)}>
          Cancel
        </button>
      </div>
    </div>
  );
}
