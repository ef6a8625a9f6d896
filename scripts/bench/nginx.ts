/**
 * A real nginx for the forward-auth benchmark, from a minimal configuration in a temporary
 * folder: `/auth` is guarded by `auth_request` to the gateway's `/api/auth/verify` (as
 * nginx/templates/default.conf.template guards `/app/`), `/auth-keepalive` the same through
 * an upstream block with keep-alive connections, and `/static` answers without asking anyone.
 * All three answer the same static content (a 1×1 GIF from nginx's `empty_gif`): nginx runs
 * `return` before the access phase, so a location that `return`s never asks `auth_request`.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findNginx } from '../../tests/nginx/harness.js';
import { freePort, waitForPort } from '../../tests/helpers/net.js';
import { childPids } from './proc.js';

export { findNginx };

/** The forward-auth subrequest's settings, as nginx/templates/default.conf.template has them. */
const VERIFY_SUBREQUEST = `
      internal;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto https;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;`;

/** The whole nginx.conf (one worker process: the machine's cores are shared with everything else). */
export function benchNginxConfig(options: { prefix: string; port: number; gateway: string }): string {
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  const { prefix, port, gateway } = options;
  return `${user}worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  upstream gateway_keepalive {
    server ${gateway};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    # The template names its upstream through a variable (re-resolved by DNS): one new
    # connection to the gateway per subrequest.
    set $gateway_upstream ${gateway};
    location = /static {
      empty_gif;
    }
    location = /auth {
      auth_request /_auth/verify;
      empty_gif;
    }
    location = /auth-keepalive {
      auth_request /_auth/verify-keepalive;
      empty_gif;
    }
    location = /_auth/verify {${VERIFY_SUBREQUEST}
      proxy_pass http://$gateway_upstream/api/auth/verify;
    }
    location = /_auth/verify-keepalive {${VERIFY_SUBREQUEST}
      proxy_pass http://gateway_keepalive/api/auth/verify;
    }
  }
}
`;
}

export interface BenchNginx {
  url: string;
  /** The master process. */
  pid: number;
  /** The worker that serves the requests. */
  workerPid: number;
  stop(): Promise<void>;
}

/** Starts nginx in the foreground in front of the gateway at `gateway` (`host:port`). */
export async function startBenchNginx(binary: string, gateway: string): Promise<BenchNginx> {
  const prefix = mkdtempSync(join(tmpdir(), 'gw-bench-nginx-'));
  mkdirSync(join(prefix, 'tmp'));
  const port = await freePort();
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, benchNginxConfig({ prefix, port, gateway }));
  const proc = spawn(binary, ['-p', prefix, '-c', conf], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const errorLog = () => {
    try {
      return readFileSync(join(prefix, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  try {
    await Promise.race([
      waitForPort(port, 10_000),
      exited.then(() => Promise.reject(new Error(`nginx exited: ${errorLog()}`))),
    ]);
  } catch (error) {
    proc.kill('SIGKILL');
    rmSync(prefix, { recursive: true, force: true });
    throw error;
  }
  let workers = childPids(proc.pid!);
  for (let i = 0; i < 50 && workers.length === 0; i++) {
    await sleep(20);
    workers = childPids(proc.pid!);
  }
  if (workers.length !== 1) throw new Error(`expected one nginx worker, found ${workers.length}`);
  return {
    url: `http://127.0.0.1:${port}`,
    pid: proc.pid!,
    workerPid: workers[0]!,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        // QUIT: graceful shutdown of the master and its worker.
        proc.kill('SIGQUIT');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}
