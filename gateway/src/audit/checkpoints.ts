import { createHmac } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson, sameMac } from './chain-hash.js';

/**
 * A signed statement, kept outside the database, that the audit chain reached `seq` with
 * `head` as that row's hash. `start` checkpoints also say where the keyed chain begins
 * (`keyedFrom`): every row from there on must be keyed, every row before it is the unkeyed
 * prefix, and `head` anchors that prefix.
 */
export interface Checkpoint {
  v: 1;
  kind: 'start' | 'periodic' | 'shutdown';
  seq: number;
  head: string;
  at: string;
  keyedFrom?: number;
  mac: string;
}

type CheckpointBody = Omit<Checkpoint, 'mac' | 'v'>;

/** A line of the checkpoint file: a checkpoint, or what could not be read as one. */
export type CheckpointLine = { line: number; checkpoint: Checkpoint } | { line: number; unreadable: true };

/** Where checkpoints live: an append-only file of JSON lines in DATA_DIR/audit-checkpoints. */
export const checkpointDir = (dataDir: string) => join(dataDir, 'audit-checkpoints');
export const CHECKPOINT_FILE = 'checkpoints.jsonl';

/** Checkpoints are MAC'd under the chain key with their own domain, never confused with a row. */
const DOMAIN = 'auth-gateway/audit-checkpoint/v1\n';

function macOf(key: Buffer, body: Omit<Checkpoint, 'mac'>): string {
  const fields = {
    v: body.v,
    kind: body.kind,
    seq: body.seq,
    head: body.head,
    at: body.at,
    keyedFrom: body.keyedFrom,
  };
  return createHmac('sha256', key).update(DOMAIN).update(canonicalJson(fields)).digest('hex');
}

export function signCheckpoint(key: Buffer, body: CheckpointBody): Checkpoint {
  const unsigned = { v: 1 as const, ...body };
  return { ...unsigned, mac: macOf(key, unsigned) };
}

/** Whether the checkpoint carries a valid MAC under the key (constant-time comparison). */
export function checkpointSigned(key: Buffer, checkpoint: Checkpoint): boolean {
  return sameMac(macOf(key, checkpoint), String(checkpoint.mac));
}

function parse(text: string): Checkpoint | undefined {
  try {
    const value = JSON.parse(text) as Partial<Checkpoint>;
    const ok =
      value.v === 1 &&
      ['start', 'periodic', 'shutdown'].includes(String(value.kind)) &&
      Number.isInteger(value.seq) &&
      (value.seq ?? -1) >= 0 &&
      typeof value.head === 'string' &&
      typeof value.at === 'string' &&
      typeof value.mac === 'string' &&
      (value.keyedFrom === undefined || Number.isInteger(value.keyedFrom)) &&
      (value.kind === 'start') === (value.keyedFrom !== undefined);
    return ok ? (value as Checkpoint) : undefined;
  } catch {
    return undefined;
  }
}

/** Every line of the checkpoint file, oldest first; an absent file has none. */
export async function readCheckpoints(dir: string): Promise<CheckpointLine[]> {
  let text: string;
  try {
    text = await readFile(join(dir, CHECKPOINT_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const lines: CheckpointLine[] = [];
  text.split('\n').forEach((raw, index) => {
    if (raw.trim() === '') return;
    const checkpoint = parse(raw);
    lines.push(checkpoint ? { line: index + 1, checkpoint } : { line: index + 1, unreadable: true });
  });
  return lines;
}

/** Appends one checkpoint and fsyncs it (and the directory when the file is new). */
export async function appendCheckpoint(dir: string, checkpoint: Checkpoint): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, CHECKPOINT_FILE);
  const fresh = await open(path, 'wx', 0o600).then(
    (handle) => handle,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') return undefined;
      throw error;
    },
  );
  const handle = fresh ?? (await open(path, 'a', 0o600));
  try {
    await handle.appendFile(`${JSON.stringify(checkpoint)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (fresh) {
    const directory = await open(dir, 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }
}
