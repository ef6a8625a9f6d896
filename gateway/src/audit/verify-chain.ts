import type { Queryable } from '../db/database.js';
import { GENESIS_HASH, hashEvent, isKeyedHash, keyedHash, sameMac } from './chain-hash.js';
import { checkpointSigned, type Checkpoint, type CheckpointLine } from './checkpoints.js';
import { AUDIT_COLUMNS, fromRow, type AuditRow } from './audit-rows.js';

export type ChainReport =
  | {
      ok: true;
      checked: number;
      lastSeq: number;
      /** First seq of the keyed chain (undefined: no keyed row yet and no start checkpoint). */
      keyedFrom?: number | undefined;
      /** Checkpoints checked against the database, and the newest seq they vouch for. */
      checkpoints: number;
      newestCheckpoint?: number | undefined;
      /** What the check could not rule out (e.g. no checkpoint at all). */
      warnings: string[];
    }
  | {
      ok: false;
      checked: number;
      /** The first row that is wrong or missing (0 when the fault is in a checkpoint itself). */
      brokenAt: number;
      reason: string;
    };

interface VerifyOptions {
  batchSize?: number;
  /** The chain key: without it, keyed rows and checkpoints cannot be checked and count as broken. */
  key?: Buffer | undefined;
  /** Every line of the checkpoint file (readCheckpoints). */
  checkpoints?: CheckpointLine[] | undefined;
}

const short = (hash: string) => `${hash.slice(0, 24)}…`;

type Anchors =
  | { ok: true; bySeq: Map<number, Checkpoint[]>; keyedFrom?: number; newest?: Checkpoint; count: number }
  | { ok: false; reason: string; brokenAt: number };

/** Checks every checkpoint's MAC and gathers what they vouch for. */
function readAnchors(lines: CheckpointLine[], key: Buffer | undefined): Anchors {
  const bySeq = new Map<number, Checkpoint[]>();
  let keyedFrom: number | undefined;
  let newest: Checkpoint | undefined;
  for (const line of lines) {
    if (!('checkpoint' in line))
      return { ok: false, brokenAt: 0, reason: `checkpoint file line ${line.line} is not a checkpoint` };
    const cp = line.checkpoint;
    if (!key)
      return { ok: false, brokenAt: 0, reason: 'there are checkpoints, and no chain key to check them' };
    if (!checkpointSigned(key, cp))
      return {
        ok: false,
        brokenAt: 0,
        reason: `checkpoint file line ${line.line} (seq ${cp.seq}) is not signed by the chain key: altered or forged`,
      };
    if (cp.kind === 'start') {
      if (cp.keyedFrom !== cp.seq + 1)
        return { ok: false, brokenAt: 0, reason: `checkpoint file line ${line.line}: inconsistent start` };
      if (keyedFrom !== undefined && keyedFrom !== cp.keyedFrom)
        return {
          ok: false,
          brokenAt: 0,
          reason: `start checkpoints disagree on where the keyed chain begins (seq ${keyedFrom} and ${cp.keyedFrom}): the checkpoints belong to another database`,
        };
      keyedFrom = cp.keyedFrom;
    }
    bySeq.set(cp.seq, [...(bySeq.get(cp.seq) ?? []), cp]);
    if (!newest || cp.seq > newest.seq) newest = cp;
  }
  return { ok: true, bySeq, keyedFrom, newest, count: lines.length };
}

/**
 * Walks the whole audit chain in order and recomputes every link. The unkeyed prefix is
 * checked with SHA-256 as it was written; from the first keyed row on, every row must be
 * keyed and its HMAC must match under the chain key. Every checkpoint must carry a valid
 * MAC, its row must exist with exactly the head it names, a start checkpoint fixes where
 * the keyed chain begins, and the table must reach the newest checkpoint. The first fault
 * (a changed row, a gap, a downgraded or recomputed row, missing newest rows, an altered
 * checkpoint) is named.
 */
export async function verifyAuditChain(db: Queryable, options: VerifyOptions = {}): Promise<ChainReport> {
  const batchSize = options.batchSize ?? 1000;
  const { key } = options;
  const anchors = readAnchors(options.checkpoints ?? [], key);
  if (!anchors.ok) return { ok: false, checked: 0, brokenAt: anchors.brokenAt, reason: anchors.reason };
  const { bySeq, keyedFrom: startsAt, newest } = anchors;
  for (const cp of bySeq.get(0) ?? [])
    if (cp.head !== GENESIS_HASH)
      return {
        ok: false,
        checked: 0,
        brokenAt: 0,
        reason: 'a checkpoint at seq 0 names a head other than genesis',
      };

  let prevHash = GENESIS_HASH;
  let lastSeq = 0;
  let checked = 0;
  let keyedFrom: number | undefined;
  for (;;) {
    const { rows } = await db.query<AuditRow>(
      `SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2`,
      [lastSeq, batchSize],
    );
    if (rows.length === 0) break;
    for (const row of rows) {
      const event = fromRow(row);
      const broken = (reason: string): ChainReport => ({ ok: false, checked, brokenAt: event.seq, reason });
      if (event.seq !== lastSeq + 1) return broken(`seq ${lastSeq + 1} is missing`);
      if (!sameMac(event.prevHash, prevHash)) return broken('prev_hash is not the hash of the event before');
      if (isKeyedHash(event.hash)) {
        if (!key) return broken('a keyed row, and no chain key to check it');
        if (startsAt !== undefined && event.seq < startsAt)
          return broken(
            `a keyed row before seq ${startsAt}, where the start checkpoint says the keyed chain begins`,
          );
        if (!sameMac(keyedHash(key, prevHash, event), event.hash))
          return broken('the content does not match its MAC under the chain key');
        keyedFrom ??= event.seq;
      } else {
        if (keyedFrom !== undefined)
          return broken(`an unkeyed row after the keyed chain began at seq ${keyedFrom}: rewritten`);
        if (startsAt !== undefined && event.seq >= startsAt)
          return broken(
            `an unkeyed row where the start checkpoint says the keyed chain began (seq ${startsAt}): rewritten`,
          );
        if (!sameMac(hashEvent(prevHash, event), event.hash))
          return broken('the content does not match its hash');
      }
      for (const cp of bySeq.get(event.seq) ?? [])
        if (!sameMac(cp.head, event.hash))
          return broken(
            `the row differs from the ${cp.kind} checkpoint of ${cp.at} (head ${short(cp.head)}): rewritten`,
          );
      prevHash = event.hash;
      lastSeq = event.seq;
      checked += 1;
    }
  }
  if (newest && lastSeq < newest.seq)
    return {
      ok: false,
      checked,
      brokenAt: lastSeq + 1,
      reason: `the table ends at seq ${lastSeq}, but the ${newest.kind} checkpoint of ${newest.at} vouches for seq ${newest.seq}: the newest rows were removed`,
    };
  const warnings: string[] = [];
  if (keyedFrom !== undefined && anchors.count === 0)
    warnings.push('no checkpoint found: removal of the newest rows cannot be detected (is DATA_DIR right?)');
  if (keyedFrom === undefined && startsAt === undefined && checked > 0)
    warnings.push(
      'no keyed row yet: the whole chain is unkeyed and could be recomputed by the database owner',
    );
  return {
    ok: true,
    checked,
    lastSeq,
    keyedFrom: keyedFrom ?? startsAt,
    checkpoints: anchors.count,
    newestCheckpoint: newest?.seq,
    warnings,
  };
}
