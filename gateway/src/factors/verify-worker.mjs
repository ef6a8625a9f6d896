/**
 * The thread that checks WebAuthn assertions for the gateway's main thread (see
 * assertion-verifier.ts): each message names a request and carries the options of
 * @simplewebauthn's verifyAuthenticationResponse; the answer is the verified outcome, or
 * the verification's refusal as a message. Plain JavaScript: a worker thread starts
 * without the TypeScript loader of the main thread.
 */
import { parentPort } from 'node:worker_threads';
import { verifyAuthenticationResponse } from '@simplewebauthn/server';

parentPort?.on('message', ({ id, options }) => {
  verifyAuthenticationResponse(options).then(
    (result) =>
      parentPort?.postMessage({
        id,
        result: { verified: result.verified, authenticationInfo: result.authenticationInfo },
      }),
    (err) => parentPort?.postMessage({ id, refused: err instanceof Error ? err.message : String(err) }),
  );
});
