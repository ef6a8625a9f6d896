import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
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
  /** `host:port` of every gateway replica: one name that resolves to all of them. */
  gatewayUpstream: string;
  /** nginx `resolver` parameters: the test DNS server (`127.0.0.1:<port> valid=1s ipv6=off`). */
  resolver: string;
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
  /** nginx's temp folders (client bodies, proxied responses) and its error log. */
  tempDir: string;
  errorLog: string;
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
      NGINX_RESOLVER: options.resolver,
      GATEWAY_UPSTREAM: options.gatewayUpstream,
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
    tempDir: path.join(prefix, 'tmp'),
    errorLog: path.join(prefix, 'error.log'),
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
  /** Response bytes the upstream has handed to nginx so far, and whether it sent them all. */
  responseBytes: number;
  responseEnded: boolean;
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
  listen: { host?: string; port?: number } = {},
): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const record: SeenRequest = {
      upstream: name,
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      responseBytes: 0,
      responseEnded: false,
    };
    seen.push(record);
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
        answer.on('data', (chunk: Buffer) => (record.responseBytes += chunk.length));
        answer.on('end', () => (record.responseEnded = true));
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  const host = listen.host ?? '127.0.0.1';
  server.listen(listen.port ?? 0, host);
  await once(server, 'listening');
  return {
    address: `${host}:${(server.address() as AddressInfo).port}`,
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

export interface TestDns {
  /** `127.0.0.1:<port>`, for nginx's resolver directive. */
  address: string;
  /** Sets the A records of a name; no address at all answers NXDOMAIN. */
  set(name: string, addresses: string[]): void;
  close(): Promise<void>;
}

/**
 * A tiny DNS server over UDP that answers A queries from a table the test changes, as
 * Docker's embedded DNS answers with the running replicas of a service: enough to prove
 * that nginx resolves at request time, starts without any replica, and follows new
 * addresses. Records carry TTL 0; nginx's `valid=` decides how long it keeps them.
 */
export async function startTestDns(): Promise<TestDns> {
  const records = new Map<string, string[]>();
  const socket = dgram.createSocket('udp4');
  socket.on('message', (query, peer) => {
    if (query.length < 17) return;
    // The question: labels from byte 12, then QTYPE and QCLASS.
    const labels: string[] = [];
    let offset = 12;
    while (offset < query.length && query[offset] !== 0) {
      const length = query[offset] ?? 0;
      labels.push(query.subarray(offset + 1, offset + 1 + length).toString('ascii'));
      offset += length + 1;
    }
    const questionEnd = offset + 5;
    const qtype = query.readUInt16BE(offset + 1);
    const name = labels.join('.').toLowerCase();
    const known = records.get(name) ?? [];
    const answers = qtype === 1 ? known : [];
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2);
    // Response, recursion desired and available; NXDOMAIN when the name has no address.
    header.writeUInt16BE(known.length === 0 ? 0x8183 : 0x8180, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const body = answers.map((address) => {
      const answer = Buffer.alloc(16);
      answer.writeUInt16BE(0xc00c, 0); // pointer to the name in the question
      answer.writeUInt16BE(1, 2); // A
      answer.writeUInt16BE(1, 4); // IN
      answer.writeUInt32BE(0, 6); // TTL
      answer.writeUInt16BE(4, 10);
      address.split('.').forEach((part, i) => answer.writeUInt8(Number(part), 12 + i));
      return answer;
    });
    socket.send(Buffer.concat([header, query.subarray(12, questionEnd), ...body]), peer.port, peer.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return {
    address: `127.0.0.1:${socket.address().port}`,
    set(name, addresses) {
      records.set(name.toLowerCase(), addresses);
    },
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
