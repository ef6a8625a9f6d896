import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The nginx binary: NGINX_BIN, else Debian's path, else the first `nginx` on PATH. */
export function findNginx(): string | undefined {
  const candidates = [
    process.env.NGINX_BIN,
    '/usr/sbin/nginx',
    ...(process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'nginx')),
  ];
  return candidates.find((candidate): candidate is string => !!candidate && existsSync(candidate));
}

/**
 * Fills the `${NAME}` placeholders of a template the way the nginx image does at start
 * (envsubst limited to the variables it is given) and fails on any placeholder left, so a
 * template variable the compose file does not set is caught here.
 */
export function renderTemplate(template: string, values: Record<string, string>): string {
  const rendered = template.replace(
    /\$\{([A-Z_][A-Z0-9_]*)\}/g,
    (whole, name: string) => values[name] ?? whole,
  );
  const left = [...rendered.matchAll(/\$\{([A-Z_][A-Z0-9_]*)\}/g)].map((m) => m[1]);
  if (left.length > 0) throw new Error(`unset template variables: ${[...new Set(left)].join(', ')}`);
  return rendered;
}

export { freePort } from '../helpers/net.js';

export interface NginxOptions {
  httpPort: number;
  httpsPort: number;
  gatewayUpstreams: [string, string];
  kratosPublicUpstream: string;
  protectedUpstream: string;
  /** Content of the SPA's index.html. */
  indexHtml: string;
}

export interface RunningNginx {
  /** The self-signed certificate nginx serves, to trust in requests. */
  ca: string;
  /** The rendered conf.d/default.conf, for failure messages. */
  config: string;
  close(): Promise<void>;
}

/** nginx.conf around the rendered template, as the nginx image's own main config is. */
function mainConfig(prefix: string): string {
  // Root starts workers as `nobody` by default, which cannot read the private temp prefix.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 256; }
http {
  default_type application/octet-stream;
  types { text/html html; application/javascript js; text/css css; }
  access_log ${prefix}/access.log;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  include conf.d/*.conf;
}
`;
}

function makeCertificate(prefix: string): void {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      path.join(prefix, 'certs', 'privkey.pem'),
      '-out',
      path.join(prefix, 'certs', 'fullchain.pem'),
    ],
    { stdio: 'pipe' },
  );
}

async function waitForPort(port: number, child: ChildProcess, errorLog: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${readFileSync(errorLog, 'utf8')}`);
    const connected = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(true)).on('error', () => resolve(false));
      socket.on('connect', () => socket.destroy());
    });
    if (connected) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('nginx did not start listening');
}

/**
 * Renders nginx/templates/default.conf.template for loopback ports into a temp prefix with
 * a fresh self-signed certificate, checks it with `nginx -t`, and runs nginx in the
 * foreground as a child process.
 */
export async function startNginx(binary: string, options: NginxOptions): Promise<RunningNginx> {
  const prefix = mkdtempSync(path.join(tmpdir(), 'nginx-test-'));
  for (const dir of ['conf.d', 'certs', 'spa', 'tmp']) mkdirSync(path.join(prefix, dir));
  cpSync(path.join(repoRoot, 'nginx', 'snippets'), path.join(prefix, 'snippets'), { recursive: true });
  makeCertificate(prefix);
  writeFileSync(path.join(prefix, 'spa', 'index.html'), options.indexHtml);
  const config = renderTemplate(
    readFileSync(path.join(repoRoot, 'nginx', 'templates', 'default.conf.template'), 'utf8'),
    {
      NGINX_SERVER_NAME: 'localhost',
      NGINX_HTTP_PORT: `127.0.0.1:${options.httpPort}`,
      NGINX_HTTPS_PORT: `127.0.0.1:${options.httpsPort}`,
      NGINX_TLS_CERT: path.join(prefix, 'certs', 'fullchain.pem'),
      NGINX_TLS_KEY: path.join(prefix, 'certs', 'privkey.pem'),
      NGINX_STATIC_ROOT: path.join(prefix, 'spa'),
      GATEWAY_UPSTREAM_1: options.gatewayUpstreams[0],
      GATEWAY_UPSTREAM_2: options.gatewayUpstreams[1],
      KRATOS_PUBLIC_UPSTREAM: options.kratosPublicUpstream,
      PROTECTED_UPSTREAM: options.protectedUpstream,
    },
  );
  writeFileSync(path.join(prefix, 'conf.d', 'default.conf'), config);
  writeFileSync(path.join(prefix, 'nginx.conf'), mainConfig(prefix));

  const args = [
    '-p',
    `${prefix}/`,
    '-c',
    path.join(prefix, 'nginx.conf'),
    '-e',
    path.join(prefix, 'error.log'),
  ];
  execFileSync(binary, ['-t', '-q', ...args], { stdio: 'pipe' });
  const child = spawn(binary, [...args, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitForPort(options.httpsPort, child, path.join(prefix, 'error.log'));
  return {
    ca: readFileSync(path.join(prefix, 'certs', 'fullchain.pem'), 'utf8'),
    config,
    async close() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request over plain HTTP or over TLS trusting `ca`, without following redirects. */
export function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer; ca?: string } = {},
): Promise<Reply> {
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      target,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        ca: options.ca,
        servername: 'localhost',
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

export interface SeenRequest {
  upstream: string;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

export interface RecordingProxy {
  address: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

/**
 * A transparent HTTP hop in front of an upstream that records what nginx sent it (method,
 * path, headers) and passes request and response through unchanged. It lets the test see
 * which replica answered and which headers arrived, without touching the gateway.
 */
export async function recordingProxy(
  name: string,
  target: string,
  seen: SeenRequest[],
): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    seen.push({ upstream: name, method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const forward = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      agent.destroy();
    },
  };
}

/** The example protected service: answers with the headers it received, as JSON. */
export async function echoServer(): Promise<{
  address: string;
  seen: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}> {
  const seen: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ url: req.url, headers: req.headers }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
