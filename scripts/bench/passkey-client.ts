/**
 * The passkey benchmark's load client, forked by scripts/bench/passkey.ts into a process of
 * its own so that sending requests never shares the benchmark's (or the gateway's) event
 * loop. It receives prepared POSTs over IPC, sends them `concurrency` at a time over
 * keep-alive connections, and answers how many per second succeeded. The requests are
 * written as bytes before the clock starts and the answers read with the least parsing
 * (status line, Content-Length), so the client takes as little of the machine as it can.
 */
import { connect, type Socket } from 'node:net';

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

/** One keep-alive HTTP/1.1 connection that sends a request and reads its answer, one at a time. */
class Connection {
  private readonly socket: Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private waiting?: { resolve(answer: { status: number; body: string }): void; reject(err: Error): void };

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      this.answer();
    });
    const fail = (err: Error) => {
      this.waiting?.reject(err);
      this.waiting = undefined;
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('the connection closed')));
  }

  static open(url: URL): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => resolve(new Connection(socket)));
      socket.once('error', reject);
    });
  }

  send(request: Buffer): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(request);
    });
  }

  /** Hands over the answer once its head and Content-Length bytes of body are in. */
  private answer() {
    const headEnd = this.buffered.indexOf('\r\n\r\n');
    if (headEnd < 0 || !this.waiting) return;
    const head = this.buffered.subarray(0, headEnd).toString('latin1');
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!length) {
      this.waiting.reject(new Error(`an answer without Content-Length: ${head.slice(0, 200)}`));
      this.waiting = undefined;
      return;
    }
    const end = headEnd + 4 + Number(length[1]);
    if (this.buffered.length < end) return;
    const body = this.buffered.subarray(headEnd + 4, end).toString('utf8');
    this.buffered = this.buffered.subarray(end);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting.resolve({ status: Number(head.slice(9, 12)), body });
  }

  close() {
    this.socket.destroy();
  }
}

/** The bytes of one login request. */
function requestBytes(url: URL, origin: string, p: PreparedPost): Buffer {
  const body = Buffer.from(p.body);
  const head =
    `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nOrigin: ${origin}\r\nX-CSRF: 1\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nCookie: ${p.cookie}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

async function run(batch: PostBatch): Promise<BatchResult> {
  const url = new URL(batch.url);
  const requests = batch.posts.map((p) => requestBytes(url, batch.origin, p));
  const connections = await Promise.all(
    Array.from({ length: batch.concurrency }, () => Connection.open(url)),
  );
  let next = 0;
  let failures = 0;
  let firstFailure: string | undefined;
  const started = process.hrtime.bigint();
  const worker = async (connection: Connection) => {
    while (next < requests.length) {
      const request = requests[next++]!;
      const failure = await connection.send(request).then(
        (answer) => (answer.status === 200 ? undefined : `${answer.status} ${answer.body.slice(0, 300)}`),
        (err: Error) => err.message,
      );
      if (failure !== undefined) {
        failures++;
        firstFailure ??= failure;
      }
    }
  };
  await Promise.all(connections.map(worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  for (const connection of connections) connection.close();
  const count = requests.length;
  return { count, seconds, perSecond: count / seconds, failures, ...(firstFailure ? { firstFailure } : {}) };
}

if (process.send) {
  process.on('message', (batch: PostBatch) => {
    void run(batch).then((result) => process.send!(result));
  });
  process.once('disconnect', () => process.exit(0));
  process.send({ ready: true });
}
