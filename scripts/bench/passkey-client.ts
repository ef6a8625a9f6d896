/**
 * The passkey benchmark's load client, forked by scripts/bench/passkey.ts into a process of
 * its own so that sending requests never shares the benchmark's (or the gateway's) event
 * loop. It receives prepared POSTs over IPC, sends them `concurrency` at a time over
 * keep-alive connections, and answers how many per second succeeded.
 */
import http from 'node:http';

export interface PreparedPost {
  /** Cookie header (the login's own pre-session jar). */
  cookie: string;
  /** JSON body, serialised beforehand. */
  body: string;
}

export interface PostBatch {
  url: string;
  origin: string;
  concurrency: number;
  posts: PreparedPost[];
}

export interface BatchResult {
  count: number;
  seconds: number;
  perSecond: number;
  /** Answers other than 200, and connection errors, with what came back first. */
  failures: number;
  firstFailure?: string;
}

function post(agent: http.Agent, url: URL, origin: string, p: PreparedPost): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          Origin: origin,
          'X-CSRF': '1',
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(p.body),
          Cookie: p.cookie,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve(
            res.statusCode === 200
              ? undefined
              : `${res.statusCode} ${Buffer.concat(chunks).toString('utf8').slice(0, 300)}`,
          ),
        );
      },
    );
    req.on('error', (error) => resolve(error.message));
    req.end(p.body);
  });
}

async function run(batch: PostBatch): Promise<BatchResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: batch.concurrency });
  const url = new URL(batch.url);
  let next = 0;
  let failures = 0;
  let firstFailure: string | undefined;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < batch.posts.length) {
      const failure = await post(agent, url, batch.origin, batch.posts[next++]!);
      if (failure !== undefined) {
        failures++;
        firstFailure ??= failure;
      }
    }
  };
  await Promise.all(Array.from({ length: batch.concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  const count = batch.posts.length;
  return { count, seconds, perSecond: count / seconds, failures, ...(firstFailure ? { firstFailure } : {}) };
}

if (process.send) {
  process.on('message', (batch: PostBatch) => {
    void run(batch).then((result) => process.send!(result));
  });
  process.once('disconnect', () => process.exit(0));
  process.send({ ready: true });
}
