import { coalesced } from '../db/coalesce.js';
import { sqlLiteral, type Database } from '../db/database.js';
import { AppError } from '../errors/app-error.js';
import type { Logger } from '../logging/logger.js';
import type { AuditEventType } from './event-types.js';
import { GENESIS_HASH, hashEvent, isKeyedHash, keyedHash } from './chain-hash.js';
import { appendCheckpoint, readCheckpoints, signCheckpoint, type Checkpoint } from './checkpoints.js';
import { verifyAuditChain, type ChainReport } from './verify-chain.js';

export type AuditOutcome = 'success' | 'failure' | 'denied';

/** One thing that happened, as the caller describes it. */
export interface AuditEvent {
  /** One of the catalogue's types (event-types.ts). */
  type: AuditEventType;
  outcome: AuditOutcome;
  identityId?: string | undefined;
  actorId?: string | undefined;
  ip?: string | undefined;
  requestId?: string | undefined;
  details?: Record<string, unknown> | undefined;
}

/** A stored event, with its place in the chain. */
export interface StoredAuditEvent extends Required<Omit<AuditEvent, 'details' | 'type'>> {
  /** As stored: rows written before a type left the catalogue keep their name. */
  type: string;
  seq: number;
  occurredAt: string;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AuditLog {
  /** Appends the event; throws (and the action must fail) if it cannot be written. */
  record(event: AuditEvent): Promise<void>;
  /** Checks the whole chain with this log's key and checkpoints (the keyed log only). */
  verify?(): Promise<ChainReport>;
  /** Writes a checkpoint of the newest row this writer committed, if it has not been checkpointed. */
  checkpoint?(): Promise<void>;
  /** Waits for pending writes, writes the shutdown checkpoint and stops the checkpoint timer. */
  close?(): Promise<void>;
}

/** Keys the chain and anchors its head in signed checkpoints outside the database. */
interface AuditChainOptions {
  /** The chain key (never stored in the database). */
  key: Buffer;
  /** Directory of the append-only checkpoint file (DATA_DIR/audit-checkpoints). */
  checkpointDir: string;
  /** A checkpoint after this many events written by this writer; 0: not by count. */
  everyEvents: number;
  /** A checkpoint this many seconds after the first event not yet checkpointed; 0: not by time. */
  intervalSeconds: number;
  /** Receives every checkpoint written (the gateway logs it), and checkpoint write failures. */
  logger?: Pick<Logger, 'info' | 'error'>;
}

export { canonicalJson, hashEvent } from './chain-hash.js';

// Serialises writers across every replica, so the chain never forks.
const CHAIN_LOCK = 727275;

interface Pending {
  event: AuditEvent;
  at: Date;
}

function toRow(seq: number, event: AuditEvent, at: Date): Omit<StoredAuditEvent, 'hash' | 'prevHash'> {
  return {
    seq,
    // Millisecond precision, so the timestamp read back from Postgres hashes the same.
    occurredAt: new Date(Math.floor(at.getTime())).toISOString(),
    type: event.type,
    outcome: event.outcome,
    identityId: event.identityId ?? null,
    actorId: event.actorId ?? null,
    ip: event.ip ?? null,
    requestId: event.requestId ?? null,
    details: event.details ?? {},
  } as unknown as Omit<StoredAuditEvent, 'hash' | 'prevHash'>;
}

interface Head {
  seq: number;
  hash: string;
}

/**
 * Appends a batch of events to the chain in one transaction of two round trips, under the
 * chain lock, and answers the new head: the lock and the head in the first (the head read by
 * a statement that starts after the lock is held, so it sees every row the previous holder
 * committed), the rows and the commit in the second. With a chain key every row is keyed;
 * `beforeKeyed` runs (still under the lock) when this batch is the first keyed one after
 * the unkeyed prefix or an empty table, so the start checkpoint is on disk before the first
 * keyed row commits. Without a key, appending after a keyed row is refused: it would look
 * like a downgrade.
 */
function appendBatch(
  db: Database,
  batch: Pending[],
  chain: { key: Buffer; beforeKeyed(head: Head): Promise<void> } | undefined,
): Promise<Head> {
  return db.transactionInTwo<{ seq: string; hash: string }, Head>(
    `SELECT pg_advisory_xact_lock(${CHAIN_LOCK}); SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`,
    async (last) => {
      let prevHash = last.rows[0]?.hash ?? GENESIS_HASH;
      let seq = Number(last.rows[0]?.seq ?? 0);
      const keyedAlready = isKeyedHash(prevHash);
      if (chain && !keyedAlready) await chain.beforeKeyed({ seq, hash: prevHash });
      if (!chain && keyedAlready)
        throw new Error('the audit chain is keyed and this writer has no chain key');
      const tuples = batch.map(({ event, at }) => {
        const row = toRow(++seq, event, at);
        const hash = chain ? keyedHash(chain.key, prevHash, row) : hashEvent(prevHash, row);
        const values = [
          sqlLiteral(row.seq),
          `${sqlLiteral(row.occurredAt)}::timestamptz`,
          sqlLiteral(row.type),
          sqlLiteral(row.outcome),
          sqlLiteral(row.identityId),
          sqlLiteral(row.actorId),
          sqlLiteral(row.ip),
          sqlLiteral(row.requestId),
          `${sqlLiteral(JSON.stringify(row.details))}::jsonb`,
          sqlLiteral(prevHash),
          sqlLiteral(hash),
        ];
        prevHash = hash;
        return `(${values.join(', ')})`;
      });
      return {
        sql: `INSERT INTO audit_events (seq, occurred_at, type, outcome, identity_id, actor_id, ip, request_id, details, prev_hash, hash)
              VALUES ${tuples.join(', ')}`,
        result: { seq, hash: prevHash },
      };
    },
  );
}

/**
 * Signed checkpoints of one writer: the newest row it committed, after `everyEvents`
 * events, `intervalSeconds` after the first event not yet covered, and at close. Writes
 * are serialised; a failed periodic write is logged and retried with the next one.
 */
function checkpointer(options: AuditChainOptions, clock: () => Date) {
  let head: Head | undefined;
  let checkpointedSeq = 0;
  let uncovered = 0;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  let starts: Promise<Set<number>> | undefined;

  async function write(body: Omit<Checkpoint, 'mac' | 'v'>) {
    const checkpoint = signCheckpoint(options.key, body);
    await appendCheckpoint(options.checkpointDir, checkpoint);
    options.logger?.info('audit checkpoint', { auditCheckpoint: checkpoint });
  }

  function checkpoint(kind: 'periodic' | 'shutdown'): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    writing = writing.then(async () => {
      const at = head;
      if (!at || at.seq <= checkpointedSeq) return;
      try {
        await write({ kind, seq: at.seq, head: at.hash, at: clock().toISOString() });
        checkpointedSeq = Math.max(checkpointedSeq, at.seq);
        uncovered = 0;
      } catch (error) {
        options.logger?.error('audit checkpoint could not be written', {
          error: error instanceof Error ? error.message : String(error),
        });
      }
    });
    return writing;
  }

  return {
    /** Writes the start checkpoint, once per keyed beginning, before its first keyed row. */
    async beforeKeyed(prefix: Head) {
      starts ??= readCheckpoints(options.checkpointDir).then(
        (lines) =>
          new Set(
            lines.flatMap((l) =>
              'checkpoint' in l && l.checkpoint.kind === 'start' ? [l.checkpoint.keyedFrom ?? 0] : [],
            ),
          ),
      );
      const known = await starts;
      const keyedFrom = prefix.seq + 1;
      if (known.has(keyedFrom)) return;
      await write({
        kind: 'start',
        seq: prefix.seq,
        head: prefix.hash,
        at: clock().toISOString(),
        keyedFrom,
      });
      known.add(keyedFrom);
    },
    committed(newHead: Head, events: number) {
      if (!head || newHead.seq > head.seq) head = newHead;
      uncovered += events;
      if (options.everyEvents > 0 && uncovered >= options.everyEvents) void checkpoint('periodic');
      else if (options.intervalSeconds > 0 && !timer) {
        timer = setTimeout(() => void checkpoint('periodic'), options.intervalSeconds * 1000);
        timer.unref();
      }
    },
    checkpoint,
  };
}

/**
 * The Postgres-backed, hash-chained audit log. Writes are group-committed (db/coalesce.ts):
 * events that arrive while a transaction is in flight are appended together in the next
 * one, so the chain lock, the two round trips and the commit are paid once per batch
 * instead of once per event. Every
 * `record` still resolves only after its own row is committed.
 *
 * With `chain`, every new row is MAC'd under a key the database does not hold and the
 * head is anchored in signed checkpoints outside the database (`AuditChainOptions`).
 */
export function createAuditLog(deps: {
  db: Database;
  clock: () => Date;
  chain?: AuditChainOptions | undefined;
}): AuditLog {
  const checkpoints = deps.chain ? checkpointer(deps.chain, deps.clock) : undefined;
  const chain =
    deps.chain && checkpoints
      ? { key: deps.chain.key, beforeKeyed: (head: Head) => checkpoints.beforeKeyed(head) }
      : undefined;
  const append = coalesced(async (batch: Pending[]) => {
    let head: Head;
    try {
      head = await appendBatch(deps.db, batch, chain);
    } catch (err) {
      const message = 'The action could not be recorded and was not performed.';
      throw new AppError('audit_unavailable', 503, message, { cause: err });
    }
    checkpoints?.committed(head, batch.length);
    return batch.map(() => undefined);
  });
  // Batches run one after another: the newest write settles after every earlier one.
  let newest: Promise<unknown> = Promise.resolve();

  return {
    async record(event) {
      const written = append({ event, at: deps.clock() });
      newest = written.catch(() => undefined);
      await written;
    },
    ...(deps.chain && checkpoints
      ? {
          verify: async () =>
            verifyAuditChain(deps.db, {
              key: deps.chain?.key,
              checkpoints: await readCheckpoints(deps.chain?.checkpointDir ?? ''),
            }),
          checkpoint: () => checkpoints.checkpoint('periodic'),
          async close() {
            await newest;
            await checkpoints.checkpoint('shutdown');
          },
        }
      : {}),
  };
}
