import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';

/** Root of the repository (two levels above tests/config). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The published reference documents, kept in the repository at
 * `tests/reference`. A missing folder is a test failure, never a skip.
 */
export const referenceDir = path.resolve(repoRoot, 'tests/reference');

/** Absolute path of a file inside the repository. */
export function repoPath(...parts: string[]): string {
  return path.join(repoRoot, ...parts);
}

/** Reads a text file of the repository. */
export function readRepoFile(...parts: string[]): string {
  return readFileSync(repoPath(...parts), 'utf8');
}

/** Reads and parses one JSON reference document, failing clearly when it is missing. */
export function readReferenceJson(...parts: string[]): Record<string, unknown> {
  const file = path.join(referenceDir, ...parts);
  if (!existsSync(file)) throw new Error(`reference document missing: tests/reference/${parts.join('/')}`);
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

// ajv-formats is CommonJS: its default import is the plugin function itself.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

const draft07MetaSchema = createRequire(import.meta.url)('ajv/dist/refs/json-schema-draft-07.json') as Record<
  string,
  unknown
>;

/**
 * A draft-07 validator (the draft every reference schema here declares) with the standard
 * formats. Not strict: the published schemas use annotation keywords Ajv does not know.
 * The compose spec names draft-07 by its https URL, which Ajv registers only as http.
 */
export function draft07Validator(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addMetaSchema({ ...draft07MetaSchema, $id: 'https://json-schema.org/draft-07/schema' });
  return ajv;
}

/** Ajv errors as readable lines for assertion messages. */
export function describeErrors(
  errors: { instancePath: string; message?: string }[] | null | undefined,
): string {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`).join('\n');
}

/** Docker Compose's interpolation of `${VAR}`, `${VAR:-default}` and `${VAR:?message}`. */
export function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(
    /\$\{([A-Z_][A-Z0-9_]*)(?::([-?])([^}]*))?\}/g,
    (_whole, name: string, op?: string, arg?: string) => {
      const set = env[name];
      if (set) return set;
      if (op === '-') return arg ?? '';
      throw new Error(`compose would refuse to start: ${name} is not set`);
    },
  );
}

/** The `NAME=value` lines of an .env file (values verbatim, not interpolated). */
export function readEnvFile(file: string): Record<string, string> {
  const lines = readFileSync(file, 'utf8').split('\n');
  return Object.fromEntries(
    lines
      .filter((l) => /^[A-Z_][A-Z0-9_]*=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}
