import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createState, type DoubleState } from './state.js';

const FORMAT = 'kratos-double-state/1';

/** What the file holds: what real Kratos keeps in its database. Web hook deliveries are a test log, not state. */
interface StateFile {
  format: typeof FORMAT;
  identities: [string, unknown][];
  sessions: [string, unknown][];
  flows: [string, unknown][];
  courier: unknown[];
}

/**
 * The state kept in `path`, or an empty state when there is no such file yet. A file this
 * double cannot read is an error that names it, never a silent fresh start.
 */
export function loadState(path: string): DoubleState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return createState();
    throw error;
  }
  let file: Partial<StateFile>;
  try {
    file = JSON.parse(text) as Partial<StateFile>;
  } catch {
    file = {};
  }
  if (
    file.format !== FORMAT ||
    !Array.isArray(file.identities) ||
    !Array.isArray(file.sessions) ||
    !Array.isArray(file.flows) ||
    !Array.isArray(file.courier)
  ) {
    throw new Error(`${path} is not a Kratos double state file (${FORMAT}); move it away to start empty`);
  }
  const state = createState();
  return {
    ...state,
    identities: new Map(file.identities) as DoubleState['identities'],
    sessions: new Map(file.sessions) as DoubleState['sessions'],
    flows: new Map(file.flows) as DoubleState['flows'],
    courier: file.courier as DoubleState['courier'],
  };
}

/** Writes the state to `path` (mode 0600: it holds password hashes and session tokens), atomically. */
export function saveState(path: string, state: DoubleState): void {
  const file: StateFile = {
    format: FORMAT,
    identities: [...state.identities],
    sessions: [...state.sessions],
    flows: [...state.flows],
    courier: state.courier,
  };
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(file), { mode: 0o600 });
  renameSync(temporary, path);
}

/**
 * Writes the state after the responses that may have changed it: `changed()` after each
 * response (writes coalesce into one per turn of the event loop), `flush()` when closing.
 */
export function persistState(path: string, state: DoubleState): { changed(): void; flush(): void } {
  let pending = false;
  const flush = (): void => {
    pending = false;
    saveState(path, state);
  };
  return {
    changed: () => {
      if (pending) return;
      pending = true;
      setImmediate(() => {
        if (pending) flush();
      });
    },
    flush,
  };
}
