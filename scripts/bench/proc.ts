/**
 * What /proc tells about a server process during a benchmark: its resident memory (sampled
 * while the load runs, and the kernel's own high-water mark) and its children.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** A `kB` field of /proc/<pid>/status (VmRSS, VmHWM, …) in kB; undefined when absent. */
export function statusKb(status: string, field: string): number | undefined {
  const match = new RegExp(`^${field}:\\s*(\\d+)\\s*kB\\s*$`, 'm').exec(status);
  return match ? Number(match[1]) : undefined;
}

function readStatus(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
}

/** The parent pid in the text of /proc/<pid>/stat (after the command name, which may hold spaces). */
export function parentPid(stat: string): number | undefined {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(fields[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/** The pids whose parent is `pid` (nginx's workers under its master). */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return children;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (parentPid(readFileSync(`/proc/${entry}/stat`, 'utf8')) === pid) children.push(Number(entry));
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return children;
}

export interface MemoryPeak {
  /** Resident set size when sampling started (kB). */
  startKb: number;
  /** The largest VmRSS seen by the sampler (kB). */
  peakSampledKb: number;
  /** VmHWM at the end: the kernel's peak RSS over the process's whole life, start-up included (kB); never below the sampled peak. */
  highWaterKb: number;
  samples: number;
}

/**
 * Samples VmRSS of `pid` every `intervalMs` until `stop()`, which answers the figures (or
 * undefined where /proc is not there).
 */
export function sampleMemory(pid: number, intervalMs = 100): { stop(): MemoryPeak | undefined } {
  const first = readStatus(pid);
  const startKb = first ? statusKb(first, 'VmRSS') : undefined;
  let peak = startKb ?? 0;
  let samples = startKb === undefined ? 0 : 1;
  const timer = setInterval(() => {
    const status = readStatus(pid);
    const rss = status ? statusKb(status, 'VmRSS') : undefined;
    if (rss === undefined) return;
    peak = Math.max(peak, rss);
    samples++;
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      const last = readStatus(pid);
      if (startKb === undefined || !last) return undefined;
      peak = Math.max(peak, statusKb(last, 'VmRSS') ?? 0);
      return {
        startKb,
        peakSampledKb: peak,
        // The kernel updates VmHWM lazily: a sample may have seen a little more.
        highWaterKb: Math.max(statusKb(last, 'VmHWM') ?? 0, peak),
        samples: samples + 1,
      };
    },
  };
}
