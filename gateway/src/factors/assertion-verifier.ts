import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import {
  verifyAuthenticationResponse,
  type VerifiedAuthenticationResponse,
  type VerifyAuthenticationResponseOpts,
} from '@simplewebauthn/server';
import { AppError } from '../errors/app-error.js';

type Verified = Pick<VerifiedAuthenticationResponse, 'verified' | 'authenticationInfo'>;

/** Checks WebAuthn assertions (@simplewebauthn's verifyAuthenticationResponse), here or on threads. */
export interface AssertionVerifier {
  /** Rejects with the verification's own error when the assertion does not verify. */
  verify(options: VerifyAuthenticationResponseOpts): Promise<Verified>;
  close(): Promise<void>;
}

/** The verification's refusal, rebuilt on the main thread (a 400 for the caller). */
class VerificationRefused extends Error {}

const verifierUnavailable = (cause: unknown) =>
  new AppError('passkey_verifier_unavailable', 503, 'Passkeys cannot be checked right now. Try again.', {
    cause,
  });

/** The default number of verification threads: one when the machine has a core to spare. */
export const defaultVerifyThreads = () => (availableParallelism() > 1 ? 1 : 0);

/**
 * An assertion verifier. With `threads` > 0 the signature checks (about a millisecond of
 * CPU each, most of it WebCrypto's key import) run on worker threads, started at the first
 * check, so sign-ins do not hold up the event loop that answers every session check; a
 * thread that dies is replaced and the checks it held answer 503. With 0 they run here.
 * `script` replaces the worker's script (tests).
 */
export function createAssertionVerifier(threads: number, script?: URL): AssertionVerifier {
  if (threads <= 0) {
    return { verify: (options) => verifyAuthenticationResponse(options), close: () => Promise.resolve() };
  }
  const workerScript = script ?? new URL('./verify-worker.mjs', import.meta.url);
  let nextId = 0;
  let turn = 0;
  let closed = false;
  const slots: Slot[] = [];

  interface Slot {
    worker: Worker;
    pending: Map<number, { resolve(v: Verified): void; reject(e: unknown): void }>;
  }

  /** A new thread, in the rotation from now on. */
  function start(): Slot {
    const slot: Slot = { worker: new Worker(workerScript), pending: new Map() };
    // An idle thread never keeps the process alive; one with checks in hand does.
    slot.worker.unref();
    slot.worker.on('message', (m: { id: number; result?: Verified; refused?: string }) => {
      const waiting = slot.pending.get(m.id);
      if (!waiting) return;
      slot.pending.delete(m.id);
      if (slot.pending.size === 0) slot.worker.unref();
      if (m.result) waiting.resolve(m.result);
      else waiting.reject(new VerificationRefused(m.refused));
    });
    const failAll = (cause: unknown) => {
      for (const waiting of slot.pending.values()) waiting.reject(verifierUnavailable(cause));
      slot.pending.clear();
    };
    slot.worker.on('error', failAll);
    slot.worker.on('exit', (code) => {
      failAll(new Error(`the verification thread exited with ${code}`));
      const at = slots.indexOf(slot);
      if (at >= 0) slots.splice(at, 1);
    });
    slots.push(slot);
    return slot;
  }

  return {
    verify(options) {
      if (closed) return Promise.reject(verifierUnavailable(new Error('the verifier is closed')));
      const slot = slots.length < threads ? start() : (slots[turn++ % slots.length] ?? start());
      const id = nextId++;
      return new Promise<Verified>((resolve, reject) => {
        if (slot.pending.size === 0) slot.worker.ref();
        slot.pending.set(id, { resolve, reject });
        slot.worker.postMessage({ id, options });
      });
    },
    async close() {
      closed = true;
      await Promise.all(slots.splice(0).map((s) => s.worker.terminate()));
    },
  };
}
