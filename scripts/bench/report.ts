/** Renders BENCHMARKS.md from the figures of one `npm run bench` run: the ratios first, then the sections. */
import type { AuditRate } from './audit-growth.js';
import type { ProfileSummary } from './cpu-profile.js';
import type { Compared, Measurement } from './load.js';
import type { Machine } from './machine.js';
import type { MemoryPeak } from './proc.js';
import { pairedRatio as ratioOfRounds } from './stats.js';

export type ForeignResult =
  | { name: string; status: 'missing' }
  | { name: string; status: 'failed'; exitCode: number | null }
  | { name: string; status: 'ok'; data: unknown };

/** One step of the session-store growth: the grown gateway against the reference, alternating. */
export interface GrowthPoint {
  sessions: number;
  referenceSessions: number;
  fillSeconds: number;
  grown: Compared;
  reference: Compared;
}

export interface BenchResults {
  machine: Machine;
  settings: Record<string, unknown>;
  session: {
    compared: Compared[];
    redisCommands: number;
    /** Bytes allocated per request of each target (V8's sampling heap profiler); absent in older runs. */
    allocations?: { name: string; bytesPerRequest: number }[];
    bodyBytes: number;
    /** Resident memory of the gateway and the bare route's process while the session check ran. */
    memory: { gateway?: MemoryPeak; bare?: MemoryPeak };
  };
  /** The session check against the bare route with the gateway on Sentinel and on Cluster. */
  topologies?: { name: string; compared: Compared[] }[];
  clientCache: { compared: Compared[]; redisCommands: { on: number; off: number } };
  /** Absent when no nginx binary was found. */
  forwardAuth?: { compared: Compared[] };
  whoami: Compared[];
  profile: { load: Measurement; summary: ProfileSummary };
  growth: GrowthPoint[];
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
const x2 = (v: number) => `${n2(v)}×`;
const mb = (kb: number) => `${n0(kb / 1024)} MB`;
const kib = (bytes: number) => `${n1(bytes / 1024)} KB`;
const rounds = (n: unknown) => (n === 1 ? '1 round' : `${String(n)} rounds`);
const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;

function table(head: string[], rows: (string | number)[][]): string {
  return [row(head), row(head.map(() => '---')), ...rows.map(row)].join('\n');
}

const byName = (list: Compared[], name: string) => {
  const found = list.find((c) => c.name === name);
  if (!found) throw new Error(`no measurement named ${name}`);
  return found;
};

/**
 * The median of per-round ratios: round r of both targets ran back to back, so their
 * ratio cancels what the rest of the machine was doing at that moment.
 */
function pairedRatio(a: Compared, b: Compared, figure: (m: Measurement) => number): number {
  return ratioOfRounds(a.rounds.map(figure), b.rounds.map(figure));
}

const verdict = (ok: boolean) => (ok ? '**met**' : '**missed**');

function comparedTable(list: Compared[]): string {
  const cpu = (c: Compared) => (c.cpuMicrosPerRequest === undefined ? 'n/a' : n0(c.cpuMicrosPerRequest));
  return table(
    [
      'Target',
      'req/s (median)',
      'p50 ms',
      'p99 ms',
      'server CPU µs/req',
      'req/s per round',
      'non-2xx/errors',
    ],
    list.map((c) => [
      c.name,
      n0(c.rps),
      n1(c.p50),
      n1(c.p99),
      cpu(c),
      c.rounds.map((r) => n0(r.rps)).join(' / '),
      c.failures,
    ]),
  );
}

function passkeyRatio(r: BenchResults): number | undefined {
  const passkey = r.foreign.find((f) => f.name === 'passkey');
  if (passkey?.status !== 'ok') return undefined;
  const ratio = (passkey.data as { ratio?: unknown }).ratio;
  return typeof ratio === 'number' ? ratio : undefined;
}

/** A session check's req/s and p99 against the bare route's (medians of the per-round ratios). */
function checkRatios(compared: Compared[], route: string) {
  const gw = byName(compared, `gateway /api/auth/${route}`);
  const bare = byName(compared, `bare /${route}`);
  return { rps: pairedRatio(gw, bare, (m) => m.rps), p99: pairedRatio(gw, bare, (m) => m.p99) };
}

/** The ratios the gateway is held to, measured side by side in this run: [figure, measured, target, verdict]. */
export function ratioRows(r: BenchResults): string[][] {
  const rows: string[][] = [];
  for (const route of ['session', 'verify']) {
    const { rps, p99 } = checkRatios(r.session.compared, route);
    rows.push(
      [
        `\`GET /api/auth/${route}\` req/s, of the bare route’s`,
        pct(rps),
        '≥ 75% (goal 80%)',
        verdict(rps >= 0.75),
      ],
      [`\`GET /api/auth/${route}\` p99, to the bare route’s`, x2(p99), '≤ 1.5×', verdict(p99 <= 1.5)],
    );
  }
  for (const t of r.topologies ?? []) {
    for (const route of ['session', 'verify']) {
      const { rps, p99 } = checkRatios(t.compared, route);
      rows.push(
        [`On ${t.name}: \`GET /api/auth/${route}\` req/s, of the bare route’s`, pct(rps), 'reported', '—'],
        [`On ${t.name}: \`GET /api/auth/${route}\` p99, to the bare route’s`, x2(p99), 'reported', '—'],
      );
    }
  }
  const passkey = passkeyRatio(r);
  rows.push([
    'Passkey login, of raw `verifyAuthenticationResponse`/s',
    passkey === undefined ? 'not measured' : `${n1(passkey * 100)}%`,
    '≥ 30% (goal 50%)',
    passkey === undefined ? '—' : verdict(passkey >= 0.3),
  ]);
  if (r.forwardAuth) {
    const statik = byName(r.forwardAuth.compared, 'nginx static 200');
    const auth = byName(r.forwardAuth.compared, 'nginx auth_request (new connection per check)');
    rows.push(
      [
        'nginx `auth_request` to the gateway req/s, of nginx’s static 200',
        pct(pairedRatio(auth, statik, (m) => m.rps)),
        'reported',
        '—',
      ],
      [
        'nginx `auth_request` p99, to nginx’s static 200',
        x2(pairedRatio(auth, statik, (m) => m.p99)),
        'reported',
        '—',
      ],
    );
  } else {
    rows.push([
      'nginx `auth_request` to the gateway, against nginx’s static 200',
      'not measured',
      'reported',
      '—',
    ]);
  }
  const last = r.growth[r.growth.length - 1];
  if (last) {
    const rps = pairedRatio(last.grown, last.reference, (m) => m.rps);
    const p99 = pairedRatio(last.grown, last.reference, (m) => m.p99);
    const label = `${n0(last.sessions)} sessions in Redis against ${n0(last.referenceSessions)}`;
    rows.push(
      [`Session check with ${label}: req/s`, x2(rps), 'within 10% (≥ 0.90×)', verdict(rps >= 0.9)],
      [`Session check with ${label}: p99`, x2(p99), 'within 10% (≤ 1.10×)', verdict(p99 <= 1.1)],
    );
  }
  return rows;
}

function ratiosSection(r: BenchResults): string {
  return [
    '## Ratios',
    '',
    'Each ratio is the median of per-round ratios of two targets measured back to back in this run ' +
      '(sections below). A smaller p99 or a larger req/s is better.',
    '',
    table(['Figure', 'This run', 'Target', ''], ratioRows(r)),
  ].join('\n');
}

const GROUPS: [string, (owner: string) => boolean][] = [
  ['the session layer (gateway/src/session)', (o) => o.startsWith('gateway/src/session/')],
  ['the rest of the gateway’s code (gateway/src)', (o) => o.startsWith('gateway/src')],
  [
    'Express, its router, URL and cookie parsing',
    (o) =>
      [
        'express',
        'router',
        'parseurl',
        'path-to-regexp',
        'finalhandler',
        'cookie',
        'on-finished',
        'on-headers',
      ].includes(o),
  ],
  ['helmet, cors and prom-client', (o) => ['helmet', 'cors', 'prom-client'].includes(o)],
  ['the Redis client', (o) => o.startsWith('@redis/') || o === 'redis'],
  [
    'the logger (winston and its formats)',
    (o) => ['winston', 'logform', 'triple-beam', 'winston-transport'].includes(o),
  ],
  [
    'Node internals and V8 (HTTP parsing, sockets, crypto, microtasks)',
    (o) => o.startsWith('node') || o.startsWith('(native'),
  ],
];

function groupedOwners(summary: ProfileSummary): [string, number][] {
  const totals = GROUPS.map(([name]) => [name, 0] as [string, number]);
  let other = 0;
  for (const { owner, selfPercent } of summary.byOwner) {
    const i = GROUPS.findIndex(([, match]) => match(owner));
    if (i >= 0) totals[i]![1] += selfPercent;
    else other += selfPercent;
  }
  totals.push(['everything else', other]);
  return totals;
}

/** Where a session check spends what the bare route does not: the CPU per request and this run's profile. */
function gapNote(r: BenchResults): string {
  const gw = byName(r.session.compared, 'gateway /api/auth/session');
  const bare = byName(r.session.compared, 'bare /session');
  const { summary } = r.profile;
  const groups = groupedOwners(summary)
    .filter(([, share]) => share >= 0.5)
    .sort((a, b) => b[1] - a[1])
    .map(([name, share]) => `${name} ${n1(share)}%`);
  const ownFiles = summary.byOwner
    .filter((o) => o.owner.startsWith('gateway/src'))
    .slice(0, 3)
    .map((o) => `\`${o.owner}\` ${n1(o.selfPercent)}%`);
  const cpu =
    gw.cpuMicrosPerRequest !== undefined && bare.cpuMicrosPerRequest
      ? `The gateway's process spends ${n0(gw.cpuMicrosPerRequest)} µs of CPU per session check, the bare ` +
        `route's ${n0(bare.cpuMicrosPerRequest)} µs (${x2(gw.cpuMicrosPerRequest / bare.cpuMicrosPerRequest)}). `
      : '';
  return (
    `${cpu}In the CPU profile of the session check (last section), the samples split into: ` +
    `${groups.join(', ')}; garbage collection ${n1(summary.garbageCollectorPercent)}% and idle ` +
    `${n1(summary.idlePercent)}% are counted apart.` +
    (ownFiles.length > 0 ? ` The gateway's busiest files: ${ownFiles.join(', ')}.` : '')
  );
}

function sessionSection(r: BenchResults): string {
  return [
    '## 1. Session check against a bare Express 5 route',
    '',
    `A password user signed in through the gateway, its warm session (whoami cache at its default). ` +
      `The bare route answers the same ${r.session.bodyBytes}-byte JSON body (\`/session\`) or the same ` +
      `forward-auth headers (\`/verify\`). ${String(r.settings.connections)} connections, ` +
      `${String(r.settings.seconds)} s per measurement, ${rounds(r.settings.rounds)} alternating after ` +
      'a warm-up; the cookie is sent to both. Server CPU is the CPU time of the server process per answered ' +
      'request, read from /proc.',
    '',
    comparedTable(r.session.compared),
    '',
    `Redis commands per session check (counted by the server over 500 sequential requests): ` +
      `**${n2(r.session.redisCommands)}**.`,
    '',
    ...(r.session.allocations
      ? [
          'Bytes allocated per request (V8’s sampling heap profiler in each server, objects the garbage ' +
            'collector took again included, over 1,000 sequential requests): ' +
            `${r.session.allocations.map((a) => `${a.name} ${kib(a.bytesPerRequest)}`).join(', ')}.`,
          '',
        ]
      : []),
    gapNote(r),
  ].join('\n');
}

function topologiesSection(r: BenchResults): string {
  const lines = ['## 1b. Session check on Redis Sentinel and Redis Cluster', ''];
  if (!r.topologies || r.topologies.length === 0) return [...lines, 'Not measured in this run.'].join('\n');
  lines.push(
    'The comparison of section 1 with the gateway on a Sentinel set (a master, a replica and three ' +
      'sentinels) and on a Cluster (three masters with a replica each), all on loopback ports of this ' +
      'machine, one topology after the other; each has its own signed-in user and its own bare route ' +
      'answering that user’s body and headers. The targets of the ratios table hold for a single server; ' +
      'these are reported beside them.',
  );
  for (const t of r.topologies) {
    const ratios = ['session', 'verify'].map((route) => {
      const { rps, p99 } = checkRatios(t.compared, route);
      return `\`/api/auth/${route}\` req/s ${pct(rps)}, p99 ${x2(p99)}`;
    });
    lines.push('', `**${t.name}**: ${ratios.join('; ')} of the bare route’s.`, '', comparedTable(t.compared));
  }
  return lines.join('\n');
}

function memorySection(r: BenchResults): string {
  const { gateway, bare } = r.session.memory;
  const lines = ['## 2. Peak memory under the session-check load', ''];
  if (!gateway) {
    lines.push('Not measured: /proc/<pid>/status could not be read.');
    return lines.join('\n');
  }
  lines.push(
    'Resident memory of each server process, sampled every 100 ms from /proc/<pid>/status (VmRSS) while ' +
      'section 1 ran, and the kernel’s high-water mark (VmHWM) at its end, which also covers start-up.',
    '',
    table(
      ['Process', 'RSS when the load started', 'peak RSS sampled under load', 'VmHWM (whole life)'],
      [['gateway', gateway] as const, ...(bare ? [['bare Express route', bare] as const] : [])].map(
        ([name, m]) => [name, mb(m.startKb), mb(m.peakSampledKb), mb(m.highWaterKb)],
      ),
    ),
  );
  return lines.join('\n');
}

function clientCacheSection(r: BenchResults): string {
  const { compared, redisCommands } = r.clientCache;
  const [on, off] = compared as [Compared, Compared];
  return [
    '## 3. Session check with the Redis client-side cache on and off',
    '',
    'The gateway of section 1 (default configuration: `REDIS_CLIENT_CACHE` on, sessions read through the ' +
      'client-side cache with server-pushed invalidation) against a second gateway on the same Redis with ' +
      '`REDIS_CLIENT_CACHE=false`, alternating, `GET /api/auth/session`.',
    '',
    comparedTable(compared),
    '',
    `With the cache off: req/s ${x2(pairedRatio(off, on, (m) => m.rps))}, p99 ` +
      `${x2(pairedRatio(off, on, (m) => m.p99))} of the cached gateway's (median of the per-round ratios). ` +
      `Redis commands per session check: ${n2(redisCommands.on)} with the cache, ${n2(redisCommands.off)} ` +
      'without.',
  ].join('\n');
}

function forwardAuthSection(r: BenchResults): string {
  const head = '## 4. Forward auth through nginx `auth_request`';
  if (!r.forwardAuth)
    return `${head}\n\nNot measured: no nginx binary was found (NGINX_BIN, /usr/sbin/nginx or PATH).`;
  const list = r.forwardAuth.compared;
  const statik = byName(list, 'nginx static 200');
  const ratios = list
    .filter((c) => c !== statik)
    .map(
      (c) =>
        `${c.name}: req/s ${pct(pairedRatio(c, statik, (m) => m.rps))}, p99 ` +
        `${x2(pairedRatio(c, statik, (m) => m.p99))} of the static answer's`,
    );
  return [
    head,
    '',
    'A real nginx (one worker process) in front of the gateway of section 1, from a minimal configuration ' +
      '(`scripts/bench/nginx.ts`): `/auth` asks `/api/auth/verify` through `auth_request` with the ' +
      'subrequest settings of `nginx/templates/default.conf.template`, whose `proxy_pass` names the gateway ' +
      'through a variable, so nginx opens a new connection to the gateway for every check; ' +
      '`/auth-keepalive` asks the same through an `upstream` block with `keepalive`; `/static` answers ' +
      'without asking. All three serve the same 43-byte static body (`empty_gif`). Server CPU counts ' +
      'nginx’s worker and, for the `auth_request` targets, the gateway.',
    '',
    comparedTable(list),
    '',
    `${ratios.join('; ')} (medians of the per-round ratios).`,
  ].join('\n');
}

function whoamiSection(r: BenchResults): string {
  const [warm, cold] = r.whoami as [Compared, Compared];
  return [
    '## 5. Kratos-backed session check: whoami cache warm vs disabled',
    '',
    'Two gateways on the same Redis and Kratos double (its own process); the second runs with ' +
      '`WHOAMI_CACHE_SECONDS=0`, so every check asks the double `GET /sessions/whoami`.',
    '',
    comparedTable(r.whoami),
    '',
    `The cache buys **${x2(pairedRatio(warm, cold, (m) => m.rps))}** the requests/s (median of the ` +
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
  const lines = [
    '## 8. Cost growth',
    '',
    `### Session check with more sessions in Redis`,
    '',
    'One gateway whose Redis database is filled, step by step, with copies of a real session (pipelined ' +
      'through `redis-cli --pipe`), measured alternately against a reference gateway on a Redis server of ' +
      `its own holding the smallest count; ${String(r.settings.growthConnections)} connections, ` +
      `${String(r.settings.seconds)} s per measurement, ${rounds(r.settings.growthRounds)} per step. ` +
      'The first step, with both at the smallest count, shows how far two equal setups differ in this run.',
    '',
    table(
      [
        'Sessions in Redis',
        'req/s',
        'p99 ms',
        'reference req/s',
        'reference p99 ms',
        'req/s ratio',
        'p99 ratio',
        'fill time s',
        'non-2xx/errors',
      ],
      r.growth.map((g) => [
        n0(g.sessions),
        n0(g.grown.rps),
        n1(g.grown.p99),
        n0(g.reference.rps),
        n1(g.reference.p99),
        x2(pairedRatio(g.grown, g.reference, (m) => m.rps)),
        x2(pairedRatio(g.grown, g.reference, (m) => m.p99)),
        n1(g.fillSeconds),
        g.grown.failures + g.reference.failures,
      ]),
    ),
    '',
    'A session is one key read by its name (O(1) in Redis), and a warm check reads it from the ' +
      'client-side cache.',
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

function profileSection(r: BenchResults): string {
  const { summary, load } = r.profile;
  return [
    '## CPU profile of the session check',
    '',
    `\`node --cpu-prof\` on a gateway process serving \`GET /api/auth/session\` at ${String(r.settings.connections)} ` +
      `connections for ${String(r.settings.profileSeconds)} s (${n0(load.rps)} req/s under the profiler). ` +
      `${n1(summary.sampledSeconds)} s sampled; idle ${n1(summary.idlePercent)}%, ` +
      `garbage collector ${n1(summary.garbageCollectorPercent)}%.`,
    '',
    'Self time by layer (percent of all samples in the load window):',
    '',
    table(
      ['Layer', 'self %'],
      groupedOwners(summary).map(([name, share]) => [name, n1(share)]),
    ),
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
        ['nginx', m.nginx],
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
    ratiosSection(r),
    machineSection(r.machine, r),
    sessionSection(r),
    topologiesSection(r),
    memorySection(r),
    clientCacheSection(r),
    forwardAuthSection(r),
    whoamiSection(r),
    foreignSection('6. Passkey login verification', foreign('passkey'), 'scripts/bench/passkey.ts'),
    foreignSection('7. File encryption', foreign('file-crypto'), 'scripts/bench/file-crypto.ts'),
    growthSection(r),
    profileSection(r),
  ].join('\n\n')}\n`;
}
