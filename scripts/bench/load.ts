/**
 * One autocannon measurement against loopback, and the alternating comparison of several
 * targets: every round measures each target once, in a rotating order, so drift of the
 * machine (thermal, other tenants) spreads over all of them instead of favouring one.
 */
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';

/** CPU time (user + system, µs) a process has used, from /proc; undefined where there is none. */
export function cpuMicros(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return undefined;
  }
}

export interface Target {
  name: string;
  url: string;
  headers?: Record<string, string>;
  /** The server's process: its CPU time per request is measured too. */
  pid?: number;
  /** Several server processes (nginx's worker and the gateway behind it): their CPU time is summed. */
  pids?: number[];
}

const serverPids = (t: Target) => t.pids ?? (t.pid ? [t.pid] : []);

/** The CPU time the processes have used together (µs); undefined if any cannot be read. */
function totalCpuMicros(pids: number[]): number | undefined {
  let total = 0;
  for (const pid of pids) {
    const used = cpuMicros(pid);
    if (used === undefined) return undefined;
    total += used;
  }
  return total;
}

export interface Measurement {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  /** Answers other than 2xx, connection errors and timeouts: a benchmark of failures is worthless. */
  failures: number;
  /** The servers' CPU time per answered request (µs), when their processes are known: unlike req/s, it barely depends on what else runs. */
  cpuMicrosPerRequest?: number;
}

export async function measure(
  target: Target,
  options: { connections: number; seconds: number },
): Promise<Measurement> {
  const pids = serverPids(target);
  const cpuBefore = pids.length > 0 ? totalCpuMicros(pids) : undefined;
  const result = await autocannon({
    url: target.url,
    headers: target.headers,
    connections: options.connections,
    duration: options.seconds,
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    failures: result.non2xx + result.errors + result.timeouts,
    ...(cpuBefore !== undefined && result.requests.total > 0
      ? { cpuMicrosPerRequest: ((totalCpuMicros(pids) ?? cpuBefore) - cpuBefore) / result.requests.total }
      : {}),
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export interface Compared {
  name: string;
  rounds: Measurement[];
  /** Medians over the rounds. */
  rps: number;
  p50: number;
  p99: number;
  failures: number;
  cpuMicrosPerRequest?: number;
}

/** Measures every target `rounds` times, alternating, after one short warm-up each. */
export async function compare(
  targets: Target[],
  options: { connections: number; seconds: number; rounds: number; warmupSeconds?: number },
): Promise<Compared[]> {
  // Rounds are kept by name: two targets of one name would share (and mix) their figures.
  if (new Set(targets.map((t) => t.name)).size !== targets.length)
    throw new Error(`targets need distinct names: ${targets.map((t) => t.name).join(', ')}`);
  for (const t of targets)
    await measure(t, { connections: options.connections, seconds: options.warmupSeconds ?? 2 });
  const rounds = new Map<string, Measurement[]>(targets.map((t) => [t.name, []]));
  for (let r = 0; r < options.rounds; r++) {
    const order = [...targets.slice(r % targets.length), ...targets.slice(0, r % targets.length)];
    for (const t of order) rounds.get(t.name)!.push(await measure(t, options));
  }
  return targets.map((t) => {
    const ms = rounds.get(t.name)!;
    return {
      name: t.name,
      rounds: ms,
      rps: median(ms.map((m) => m.rps)),
      p50: median(ms.map((m) => m.p50)),
      p99: median(ms.map((m) => m.p99)),
      failures: ms.reduce((sum, m) => sum + m.failures, 0),
      ...(serverPids(t).length > 0
        ? { cpuMicrosPerRequest: median(ms.map((m) => m.cpuMicrosPerRequest ?? 0)) }
        : {}),
    };
  });
}
