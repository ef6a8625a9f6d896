import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Compared, Measurement } from '../../scripts/bench/load.js';
import { benchNginxConfig } from '../../scripts/bench/nginx.js';
import { ratioRows, renderReport, type BenchResults } from '../../scripts/bench/report.js';

const m = (rps: number, p99: number, cpu?: number): Measurement => ({
  rps,
  p50: p99 / 4,
  p99,
  requests: rps * 5,
  failures: 0,
  ...(cpu === undefined ? {} : { cpuMicrosPerRequest: cpu }),
});

/** A target measured over rounds given as [req/s, p99] pairs. */
function target(name: string, rounds: [number, number][], cpu?: number): Compared {
  const ms = rounds.map(([rps, p99]) => m(rps, p99, cpu));
  return {
    name,
    rounds: ms,
    rps: ms[Math.floor(ms.length / 2)]!.rps,
    p50: ms[0]!.p50,
    p99: ms[0]!.p99,
    failures: 0,
    ...(cpu === undefined ? {} : { cpuMicrosPerRequest: cpu }),
  };
}

function results(overrides: Partial<BenchResults> = {}): BenchResults {
  // Round 2 ran on a busy machine: both slower, the ratio the same.
  const bare = (path: string) =>
    target(
      `bare /${path}`,
      [
        [10_000, 10],
        [5_000, 20],
        [10_000, 10],
      ],
      100,
    );
  return {
    machine: {
      date: '2026-01-01T00:00:00.000Z',
      cpuModel: 'Test CPU',
      cores: 2,
      memoryGiB: 4,
      kernel: 'linux test',
      node: 'v20',
      redis: '7',
      postgres: '16',
      nginx: '1.22.1',
      packages: { express: '5.0.0' },
    },
    settings: {
      connections: 64,
      seconds: 5,
      rounds: 3,
      growthConnections: 16,
      growthRounds: 3,
      profileSeconds: 10,
    },
    session: {
      compared: [
        bare('session'),
        target(
          'gateway /api/auth/session',
          [
            [8_000, 14],
            [4_000, 28],
            [8_000, 14],
          ],
          125,
        ),
        bare('verify'),
        target(
          'gateway /api/auth/verify',
          [
            [7_000, 20],
            [3_500, 40],
            [7_000, 20],
          ],
          140,
        ),
      ],
      redisCommands: 0.01,
      bodyBytes: 420,
      memory: {
        gateway: { startKb: 100 * 1024, peakSampledKb: 150 * 1024, highWaterKb: 160 * 1024, samples: 90 },
      },
    },
    clientCache: {
      compared: [
        target('client cache on (default)', [[8_000, 14]], 125),
        target('client cache off (REDIS_CLIENT_CACHE=false)', [[4_000, 28]], 250),
      ],
      redisCommands: { on: 0.01, off: 3 },
    },
    forwardAuth: {
      compared: [
        target('nginx static 200', [[40_000, 4]], 10),
        target('nginx auth_request (new connection per check)', [[4_000, 40]], 300),
        target('nginx auth_request (keep-alive upstream)', [[6_000, 30]], 200),
      ],
    },
    whoami: [
      target('whoami cache warm (5 s)', [[8_000, 14]]),
      target('whoami cache disabled', [[2_000, 60]]),
    ],
    profile: {
      load: m(5_000, 20),
      summary: {
        sampledSeconds: 10,
        idlePercent: 5,
        garbageCollectorPercent: 3,
        topFrames: [{ name: 'writev', where: '(native)', selfPercent: 10 }],
        byOwner: [
          { owner: 'node (internals)', selfPercent: 40 },
          { owner: 'gateway/src/session/session-store.ts', selfPercent: 6 },
          { owner: 'router', selfPercent: 5 },
        ],
      },
    },
    growth: [
      {
        sessions: 10,
        referenceSessions: 10,
        fillSeconds: 0,
        grown: target('grown, 10 sessions', [[2_000, 10]]),
        reference: target('reference, 10 sessions', [[2_000, 10]]),
      },
      {
        sessions: 1_000_000,
        referenceSessions: 10,
        fillSeconds: 15,
        grown: target('grown, 1000000 sessions', [[1_900, 10.5]]),
        reference: target('reference, 10 sessions', [[2_000, 10]]),
      },
    ],
    foreign: [
      { name: 'passkey', status: 'ok', data: { ratio: 0.35, markdown: 'passkey figures' } },
      { name: 'file-crypto', status: 'failed', exitCode: 1 },
    ],
    durationSeconds: 600,
    loadAverage: { start: 1, end: 1 },
    ...overrides,
  };
}

describe('BENCHMARKS.md', () => {
  it('opens with the ratios table, before the machine and every section', () => {
    const report = renderReport(results());
    const ratios = report.indexOf('## Ratios');
    assert.ok(ratios > 0);
    for (const later of [
      '## Machine and versions',
      '## 1. Session check',
      '## 4. Forward auth',
      '## 8. Cost growth',
    ])
      assert.ok(report.indexOf(later) > ratios, later);
  });

  it('holds each ratio to its target, from the per-round ratios', () => {
    const rows = ratioRows(results());
    const find = (start: string) => rows.find((r) => r[0]!.startsWith(start))!;
    // 8,000 / 10,000 in every round, the busy one included.
    assert.deepEqual(find('`GET /api/auth/session` req/s'), [
      '`GET /api/auth/session` req/s, of the bare route’s',
      '80%',
      '≥ 75% (goal 80%)',
      '**met**',
    ]);
    assert.equal(find('`GET /api/auth/session` p99')[1], '1.40×');
    assert.equal(find('`GET /api/auth/session` p99')[3], '**met**');
    assert.equal(find('`GET /api/auth/verify` req/s')[1], '70%');
    assert.equal(find('`GET /api/auth/verify` req/s')[3], '**missed**');
    assert.equal(find('`GET /api/auth/verify` p99')[1], '2.00×');
    assert.equal(find('`GET /api/auth/verify` p99')[3], '**missed**');
    assert.deepEqual(find('Passkey login').slice(1), ['35.0%', '≥ 30% (goal 50%)', '**met**']);
    assert.equal(find('nginx `auth_request` to the gateway req/s')[1], '10%');
    assert.equal(find('nginx `auth_request` p99')[1], '10.00×');
    const growthRps = find('Session check with 1,000,000 sessions in Redis against 10: req/s');
    assert.deepEqual(growthRps.slice(1), ['0.95×', 'within 10% (≥ 0.90×)', '**met**']);
    const growthP99 = find('Session check with 1,000,000 sessions in Redis against 10: p99');
    assert.deepEqual(growthP99.slice(1), ['1.05×', 'within 10% (≤ 1.10×)', '**met**']);
  });

  it('reports the session check on Sentinel and Cluster apart, against its own bare route', () => {
    const onTopology = (name: string, gatewayRps: number) => ({
      name,
      compared: [
        target('bare /session', [[10_000, 10]]),
        target('gateway /api/auth/session', [[gatewayRps, 12]]),
        target('bare /verify', [[10_000, 10]]),
        target('gateway /api/auth/verify', [[gatewayRps / 2, 30]]),
      ],
    });
    const r = results({ topologies: [onTopology('Sentinel', 9_000), onTopology('Cluster', 6_000)] });
    const rows = ratioRows(r);
    const find = (start: string) => rows.find((x) => x[0]!.startsWith(start))!;
    assert.deepEqual(find('On Sentinel: `GET /api/auth/session` req/s').slice(1), ['90%', 'reported', '—']);
    assert.deepEqual(find('On Cluster: `GET /api/auth/verify` p99').slice(1), ['3.00×', 'reported', '—']);
    // The single-server rows keep their own figures and targets.
    assert.equal(find('`GET /api/auth/session` req/s')[1], '80%');
    const report = renderReport(r);
    assert.match(report, /## 1b\. Session check on Redis Sentinel and Redis Cluster/);
    assert.match(report, /\*\*Cluster\*\*: `\/api\/auth\/session` req\/s 60%, p99 1\.20×/);
    assert.match(renderReport(results()), /## 1b\.[^\n]*\n\nNot measured in this run\./);
  });

  it('shows the bytes each server allocates per request, when measured', () => {
    const base = results();
    const withAllocations = results({
      session: {
        ...base.session,
        allocations: [
          { name: 'bare /session', bytesPerRequest: 10_240 },
          { name: 'gateway /api/auth/session', bytesPerRequest: 25_600 },
        ],
      },
    });
    assert.match(
      renderReport(withAllocations),
      /Bytes allocated per request [^\n]*: bare \/session 10\.0 KB, gateway \/api\/auth\/session 25\.0 KB\./,
    );
    assert.doesNotMatch(renderReport(base), /Bytes allocated per request/);
  });

  it('says what was not measured instead of a figure', () => {
    const rows = ratioRows(
      results({ forwardAuth: undefined, foreign: [{ name: 'passkey', status: 'missing' }] }),
    );
    assert.equal(rows.find((r) => r[0]!.startsWith('Passkey login'))![1], 'not measured');
    assert.equal(rows.find((r) => r[0]!.startsWith('nginx'))![1], 'not measured');
    const report = renderReport(results({ forwardAuth: undefined }));
    assert.match(report, /Not measured: no nginx binary was found/);
    assert.match(report, /`scripts\/bench\/file-crypto.ts` failed in this run \(exit code 1\)/);
  });

  it('shows the servers’ CPU per request, the peak RSS and the Redis commands with the cache on and off', () => {
    const report = renderReport(results());
    assert.match(report, /\| Target \| req\/s \(median\) \| p50 ms \| p99 ms \| server CPU µs\/req \|/);
    assert.match(report, /\| gateway \/api\/auth\/session \| 4,000 \| 3\.5 \| 14\.0 \| 125 \|/);
    assert.match(report, /\| gateway \| 100 MB \| 150 MB \| 160 MB \|/);
    assert.match(report, /Redis commands per session check: 0\.01 with the cache, 3\.00 without/);
    assert.match(
      report,
      /The gateway's process spends 125 µs of CPU per session check, the bare route's 100 µs/,
    );
  });

  it('describes only the session layer the gateway has', () => {
    assert.doesNotMatch(renderReport(results()), /express-session|connect-redis/);
  });
});

describe('the benchmark nginx configuration', () => {
  const config = benchNginxConfig({ prefix: '/tmp/x', port: 8080, gateway: '127.0.0.1:3001' });
  const location = (name: string) => {
    const start = config.indexOf(`location = ${name} {`);
    assert.ok(start >= 0, name);
    return config.slice(start, config.indexOf('}', start));
  };

  it('guards /auth and /auth-keepalive with auth_request and serves them in the content phase', () => {
    for (const [name, subrequest] of [
      ['/auth', '/_auth/verify'],
      ['/auth-keepalive', '/_auth/verify-keepalive'],
    ] as const) {
      const block = location(name);
      assert.match(block, new RegExp(`auth_request ${subrequest};`));
      // `return` runs before the access phase: auth_request would never be asked.
      assert.doesNotMatch(block, /\breturn\b/);
      assert.match(block, /empty_gif;/);
    }
    assert.doesNotMatch(location('/static'), /auth_request|return/);
    assert.match(location('/static'), /empty_gif;/);
  });

  it('asks the gateway’s /api/auth/verify from internal locations, per check and over keep-alive', () => {
    assert.match(
      location('/_auth/verify'),
      /internal;[\s\S]*proxy_pass http:\/\/\$gateway_upstream\/api\/auth\/verify;/,
    );
    assert.match(config, /set \$gateway_upstream 127\.0\.0\.1:3001;/);
    assert.match(
      location('/_auth/verify-keepalive'),
      /proxy_pass http:\/\/gateway_keepalive\/api\/auth\/verify;/,
    );
    assert.match(config, /upstream gateway_keepalive \{\s*server 127\.0\.0\.1:3001;\s*keepalive \d+;/);
    assert.match(config, /listen 127\.0\.0\.1:8080;/);
  });
});
