/** Renders BENCHMARKS.md from the figures of one `npm run bench` run. */
import type { AuditRate } from './audit-growth.js';
import type { ProfileSummary } from './cpu-profile.js';
import type { Compared, Measurement } from './load.js';
import type { Machine } from './machine.js';

export type ForeignResult =
  | { name: string; status: 'missing' }
  | { name: string; status: 'failed'; exitCode: number | null }
  | { name: string; status: 'ok'; data: unknown };

export interface BenchResults {
  machine: Machine;
  settings: Record<string, unknown>;
  session: { compared: Compared[]; redisCommands: number; bodyBytes: number };
  whoami: Compared[];
  profile: { load: Measurement; summary: ProfileSummary };
  growth: (Measurement & { sessions: number; fillSeconds: number })[];
  audit?: { empty: AuditRate; full: AuditRate; loadSeconds: number };
  foreign: ForeignResult[];
  durationSeconds: number;
  /** 1-minute load average at the start and the end of the run (other work on the machine). */
  loadAverage: { start: number; end: number };
}

const n0 = (v: number) => Math.round(v).toLocaleString('en-US');
const n1 = (v: number) => v.toFixed(1);
const n2 = (v: number) => v.toFixed(2);
const pct = (v: number) => `${Math.round(v * 100)}%`;
const times = (a: number, b: number) => (b > 0 ? `${n2(a / b)}×` : 'n/a');
const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;

function table(head: string[], rows: (string | number)[][]): string {
  return [row(head), row(head.map(() => '---')), ...rows.map(row)].join('\n');
}

const byName = (list: Compared[], name: string) => list.find((c) => c.name === name)!;

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * The median of per-round ratios: round r of both targets ran back to back, so their
 * ratio cancels what the rest of the machine was doing at that moment.
 */
function pairedRatio(a: Compared, b: Compared, figure: (m: Measurement) => number): number {
  return median(a.rounds.map((m, r) => figure(m) / figure(b.rounds[r]!)));
}

function comparedTable(list: Compared[]): string {
  return table(
    ['Target', 'req/s (median)', 'p50 ms', 'p99 ms', 'req/s per round', 'non-2xx/errors'],
    list.map((c) => [
      c.name,
      n0(c.rps),
      n1(c.p50),
      n1(c.p99),
      c.rounds.map((r) => n0(r.rps)).join(' / '),
      c.failures,
    ]),
  );
}

function verdict(ok: boolean) {
  return ok ? '**met**' : '**missed**';
}

/** Where a session check spends what the bare route does not, from the profile of this run. */
function gapNote(r: BenchResults): string {
  const share = (name: string) =>
    Number(groupedOwners(r.profile.summary).find((g) => g[0] === name)?.[1] ?? 0);
  const session = share('express-session and its cookie/store helpers');
  const framework = share('Express, router and URL parsing');
  const own = share('the gateway’s own code (gateway/src)');
  return (
    `Where the difference goes (CPU profile below): express-session ${n1(session)}% of the samples (it ` +
    'unsigns the cookie with an HMAC and hashes the loaded session to detect changes, on every request), ' +
    `Express routing through the gateway's middleware stack ${n1(framework)}% (the bare route has one ` +
    `layer), the gateway's own code ${n1(own)}%, and the larger answers (security headers) in socket writes. ` +
    'The session store read is one Redis round trip per check; the whoami and identity views come from ' +
    'the client-side cache.'
  );
}

function sessionSection(r: BenchResults): string {
  const list = r.session.compared;
  const lines = [
    '## 1. Session check against a bare Express 5 route',
    '',
    `A password-registered user with a warm gateway session (Kratos token sealed in it, whoami cache 5 s). ` +
      `The bare route answers the same ${r.session.bodyBytes}-byte JSON body (\`/session\`) or the same ` +
      `forward-auth headers (\`/verify\`). ${r.settings.connections} connections, ${r.settings.seconds} s per ` +
      `measurement, ${r.settings.rounds} alternating rounds after a warm-up; the cookie is sent to both.`,
    '',
    comparedTable(list),
    '',
    table(
      [
        'Ratio (gateway / bare, median of the rounds)',
        'req/s',
        'target ≥ 60% (goal 80%)',
        'p99',
        'target ≤ 1.5×',
      ],
      ['session', 'verify'].map((route) => {
        const gw = byName(list, `gateway /api/auth/${route}`);
        const bare = byName(list, `bare /${route}`);
        const rps = pairedRatio(gw, bare, (m) => m.rps);
        const p99 = pairedRatio(gw, bare, (m) => m.p99);
        return [`GET /api/auth/${route}`, pct(rps), verdict(rps >= 0.6), `${n2(p99)}×`, verdict(p99 <= 1.5)];
      }),
    ),
    '',
    `Redis commands per session check (counted by the server over 500 sequential requests): ` +
      `**${n2(r.session.redisCommands)}**.`,
    '',
    gapNote(r),
  ];
  return lines.join('\n');
}

function whoamiSection(r: BenchResults): string {
  const [warm, cold] = r.whoami as [Compared, Compared];
  return [
    '## 2. Kratos-backed session check: whoami cache warm vs disabled',
    '',
    'Two gateways on the same Redis and Kratos double (its own process); the second runs with ' +
      '`WHOAMI_CACHE_SECONDS=0`, so every check asks the double `GET /sessions/whoami`.',
    '',
    comparedTable(r.whoami),
    '',
    `The cache buys **${n2(pairedRatio(warm, cold, (m) => m.rps))}×** the requests/s (median of the ` +
      `per-round ratios) and a p99 of ` +
      `${n1(warm.p99)} ms instead of ${n1(cold.p99)} ms. (A real Kratos answering over the network, ` +
      'with its own database, costs more than the in-memory double.)',
  ].join('\n');
}

/** Renders another module's JSON: its own `markdown` if it wrote one, else its figures as tables. */
function foreignBody(data: unknown): string {
  if (data && typeof data === 'object' && typeof (data as { markdown?: unknown }).markdown === 'string')
    return (data as { markdown: string }).markdown;
  const flat: [string, string][] = [];
  const walk = (value: unknown, path: string) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
    } else if (Array.isArray(value) && value.every((v) => v && typeof v === 'object')) {
      value.forEach((v, i) => walk(v, `${path}[${i}]`));
    } else {
      flat.push([
        path,
        typeof value === 'number' ? String(Math.round(value * 100) / 100) : JSON.stringify(value),
      ]);
    }
  };
  walk(data, '');
  return table(['Figure', 'Value'], flat);
}

function foreignSection(title: string, result: ForeignResult | undefined, script: string): string {
  const head = `## ${title}\n\n`;
  if (!result || result.status === 'missing')
    return `${head}Not measured in this run: \`${script}\` does not exist yet.`;
  if (result.status === 'failed')
    return `${head}\`${script}\` failed in this run (exit code ${result.exitCode}); no figures.`;
  return `${head}From \`${script}\` (its JSON in \`bench-results/\`):\n\n${foreignBody(result.data)}`;
}

function growthSection(r: BenchResults): string {
  const first = r.growth[0]!;
  const last = r.growth[r.growth.length - 1]!;
  const lines = [
    '## 5. Cost growth',
    '',
    `### Session check with more sessions in Redis`,
    '',
    `One gateway on its own Redis database, filled with copies of a real session (pipelined through ` +
      `\`redis-cli --pipe\`); ${r.settings.growthConnections} connections, ${r.settings.seconds} s each.`,
    '',
    table(
      ['Sessions in Redis', 'req/s', 'p50 ms', 'p99 ms', 'fill time s', 'non-2xx/errors'],
      r.growth.map((g) => [n0(g.sessions), n0(g.rps), n1(g.p50), n1(g.p99), n1(g.fillSeconds), g.failures]),
    ),
    '',
    `From ${n0(first.sessions)} to ${n0(last.sessions)} sessions: req/s ${times(last.rps, first.rps)}, ` +
      `p99 ${times(last.p99, first.p99)} (a session is one GET by key: O(1) in Redis).`,
    '',
    '### Audit insert rate with many rows present',
    '',
  ];
  if (!r.audit) {
    lines.push('Not measured: no Postgres server was reachable (DATABASE_URL or 127.0.0.1:5432).');
    return lines.join('\n');
  }
  const { empty, full, loadSeconds } = r.audit;
  lines.push(
    `\`deps.audit.record\` against a throwaway Postgres database, ${r.settings.auditSeconds} s per figure. ` +
      `The rows were bulk-loaded with \`INSERT … SELECT generate_series\` in ${n1(loadSeconds)} s and end in a ` +
      'correctly hashed tail row, so the appends continue a valid chain.',
    '',
    table(
      ['Rows present', 'events/s, 1 writer', 'events/s, 8 writers'],
      [empty, full].map((a) => [n0(a.rows), n0(a.sequentialPerSecond), n0(a.concurrentPerSecond)]),
    ),
    '',
    `With ${n0(full.rows)} rows the rate is ×${n2(full.sequentialPerSecond / empty.sequentialPerSecond)} ` +
      `(1 writer) and ×${n2(full.concurrentPerSecond / empty.concurrentPerSecond)} (8 writers) of the empty ` +
      'table: the chain tail is read through the primary key, and writers serialise on one advisory lock ' +
      '(which is why 8 writers are not 8× faster).',
  );
  return lines.join('\n');
}

const GROUPS: [string, (owner: string) => boolean][] = [
  ['the gateway’s own code (gateway/src)', (o) => o.startsWith('gateway/src')],
  [
    'express-session and its cookie/store helpers',
    (o) =>
      ['express-session', 'connect-redis', 'on-headers', 'cookie', 'cookie-signature', 'uid-safe'].includes(
        o,
      ),
  ],
  [
    'Express, router and URL parsing',
    (o) => ['express', 'router', 'parseurl', 'path-to-regexp', 'finalhandler'].includes(o),
  ],
  ['helmet, cors and prom-client', (o) => ['helmet', 'cors', 'prom-client'].includes(o)],
  ['the Redis client', (o) => o.startsWith('@redis/') || o === 'redis'],
  [
    'Node internals and V8 (HTTP parsing, sockets, crypto, microtasks)',
    (o) => o.startsWith('node') || o.startsWith('(native'),
  ],
];

function groupedOwners(summary: ProfileSummary): (string | number)[][] {
  const totals = GROUPS.map(([name]) => [name, 0] as [string, number]);
  let other = 0;
  for (const { owner, selfPercent } of summary.byOwner) {
    const i = GROUPS.findIndex(([, match]) => match(owner));
    if (i >= 0) totals[i]![1] += selfPercent;
    else other += selfPercent;
  }
  totals.push(['everything else', other]);
  return totals.map(([name, v]) => [name, n1(v)]);
}

function profileSection(r: BenchResults): string {
  const { summary, load } = r.profile;
  return [
    '## CPU profile of the session check',
    '',
    `\`node --cpu-prof\` on a gateway process serving \`GET /api/auth/session\` at ${r.settings.connections} ` +
      `connections for ${r.settings.profileSeconds} s (${n0(load.rps)} req/s under the profiler). ` +
      `${n1(summary.sampledSeconds)} s sampled; idle ${n1(summary.idlePercent)}%, ` +
      `garbage collector ${n1(summary.garbageCollectorPercent)}%.`,
    '',
    'Self time by layer (percent of all samples in the load window):',
    '',
    table(['Layer', 'self %'], groupedOwners(summary)),
    '',
    'Self time by owner:',
    '',
    table(
      ['Owner', 'self %'],
      summary.byOwner.slice(0, 15).map((o) => [o.owner, n1(o.selfPercent)]),
    ),
    '',
    'Top frames by self time:',
    '',
    table(
      ['Function', 'Where', 'self %'],
      summary.topFrames.map((f) => [`\`${f.name}\``, `\`${f.where}\``, n1(f.selfPercent)]),
    ),
  ].join('\n');
}

function machineSection(m: Machine, r: BenchResults): string {
  return [
    '## Machine and versions',
    '',
    table(
      ['', ''],
      [
        ['Date', m.date],
        ['CPU', `${m.cpuModel}, ${m.cores} cores (shared by the servers and the load generator)`],
        ['Memory', `${m.memoryGiB} GiB`],
        [
          'Load average (1 min)',
          `${n1(r.loadAverage.start)} at the start, ${n1(r.loadAverage.end)} at the end`,
        ],
        ['OS', m.kernel],
        ['Node', m.node],
        ['Redis', m.redis],
        ['Postgres', m.postgres],
        ...Object.entries(m.packages).map(([k, v]) => [k, v]),
        [
          'Run time',
          `${Math.round(r.durationSeconds)} s${r.settings.quick ? ' (BENCH_QUICK smoke run)' : ''}`,
        ],
      ],
    ),
  ].join('\n');
}

/** The whole report. */
export function renderReport(r: BenchResults): string {
  const foreign = (name: string) => r.foreign.find((f) => f.name === name);
  return `${[
    '# Benchmarks',
    'Generated by `npm run bench` (`scripts/bench/run.ts`) from one run on the machine below; do not edit ' +
      'by hand. Every server runs in its own process and autocannon runs in the runner process, all on the ' +
      'same cores over loopback: quote the ratios, not the absolute times.',
    machineSection(r.machine, r),
    sessionSection(r),
    whoamiSection(r),
    foreignSection('3. Passkey login verification', foreign('passkey'), 'scripts/bench/passkey.ts'),
    foreignSection('4. File encryption', foreign('file-crypto'), 'scripts/bench/file-crypto.ts'),
    growthSection(r),
    profileSection(r),
  ].join('\n\n')}\n`;
}
