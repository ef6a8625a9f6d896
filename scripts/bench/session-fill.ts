/**
 * Fills a Redis database with gateway sessions fast: the RESP protocol is generated here
 * and streamed through `redis-cli --pipe`, which writes a million keys in seconds.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';

const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;

/** Writes `count` copies of `value` under fresh `<keyPrefix><random id>` keys, with a TTL. */
export async function fillSessions(options: {
  port: number;
  db: number;
  keyPrefix: string;
  value: string;
  count: number;
  ttlSeconds: number;
}): Promise<void> {
  const cli = spawn('redis-cli', ['-p', String(options.port), '-n', String(options.db), '--pipe'], {
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  const tail = bulk(options.value) + bulk('EX') + bulk(String(options.ttlSeconds));
  const batch = 2000;
  for (let written = 0; written < options.count; written += batch) {
    let chunk = '';
    for (let i = 0; i < Math.min(batch, options.count - written); i++) {
      chunk += `*5\r\n${bulk('SET')}${bulk(options.keyPrefix + randomBytes(24).toString('base64url'))}${tail}`;
    }
    if (!cli.stdin.write(chunk)) await once(cli.stdin, 'drain');
  }
  cli.stdin.end();
  const [code] = (await once(cli, 'exit')) as [number];
  if (code !== 0) throw new Error(`redis-cli --pipe exited with ${code}`);
}
