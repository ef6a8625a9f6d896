/**
 * Summarises a V8 `.cpuprofile` (written by `node --cpu-prof`): self time per function
 * and per package, so the report can say where a session check spends its CPU.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Frame {
  name: string;
  where: string;
  selfPercent: number;
}

export interface ProfileSummary {
  sampledSeconds: number;
  /** Share of samples in which the thread was idle (waiting for I/O). */
  idlePercent: number;
  garbageCollectorPercent: number;
  topFrames: Frame[];
  /** Self time grouped by package (node_modules/<name>), our own files, or Node internals; largest first. */
  byOwner: { owner: string; selfPercent: number }[];
}

function pathOf(url: string, root: string): string {
  if (!url) return '(native)';
  if (url.startsWith('node:')) return url;
  try {
    return relative(root, url.startsWith('file:') ? fileURLToPath(url) : url);
  } catch {
    return url;
  }
}

function ownerOf(where: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where);
  if (pkg) return pkg[1]!;
  if (where.startsWith('node:')) return 'node (internals)';
  if (where === '(native)') return '(native / V8)';
  return where.split(':')[0]!;
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** The samples taken inside `[from, to]` (µs on the profiler's monotonic clock). */
function samplesWithin(profile: CpuProfile, window?: { from: number; to: number }): number[] {
  if (!window) return profile.samples;
  const kept: number[] = [];
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at >= window.from && at <= window.to) kept.push(id);
  });
  return kept;
}

/**
 * Reads a profile and ranks where the non-idle time went, counting only the samples
 * inside `window` when one is given (the load, without start-up).
 */
export function summariseProfile(
  file: string,
  root: string,
  options: { top?: number; window?: { from: number; to: number } } = {},
): ProfileSummary {
  const top = options.top ?? 15;
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const samples = samplesWithin(profile, options.window);
  const total = samples.length;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const hits = new Map<number, number>();
  for (const id of samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const pct = (n: number) => (100 * n) / total;
  const frames = new Map<string, Frame & { hits: number }>();
  const owners = new Map<string, number>();
  let idle = 0;
  let gc = 0;
  for (const [id, n] of hits) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') idle += n;
    if (functionName === '(garbage collector)') gc += n;
    if (SPECIAL.has(functionName)) continue;
    const where = `${pathOf(url, root)}${url ? `:${lineNumber + 1}` : ''}`;
    const key = `${functionName}@${where}`;
    const frame = frames.get(key) ?? { name: functionName || '(anonymous)', where, selfPercent: 0, hits: 0 };
    frame.hits += n;
    frames.set(key, frame);
    const owner = ownerOf(where);
    owners.set(owner, (owners.get(owner) ?? 0) + n);
  }
  return {
    sampledSeconds: options.window
      ? (options.window.to - options.window.from) / 1e6
      : (profile.endTime - profile.startTime) / 1e6,
    idlePercent: pct(idle),
    garbageCollectorPercent: pct(gc),
    topFrames: [...frames.values()]
      .sort((a, b) => b.hits - a.hits)
      .slice(0, top)
      .map(({ name, where, hits: n }) => ({ name, where, selfPercent: pct(n) })),
    byOwner: [...owners].sort((a, b) => b[1] - a[1]).map(([owner, n]) => ({ owner, selfPercent: pct(n) })),
  };
}
