/**
 * TLS for the tests of the internal connections (Vault, Redis, Postgres): a private CA with a
 * server certificate for `localhost` and 127.0.0.1 (made by openssl), and TLS-terminating
 * proxies in front of the plain-TCP servers the suites already run. The proxies speak real
 * TLS, so a client is proven to verify the chain and the name against the CA it was given.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer as createTlsServer, TLSSocket } from 'node:tls';

export interface TestPki {
  dir: string;
  /** PEM of the CA that signed the server certificate, and its path. */
  caPem: string;
  caFile: string;
  /** PEM of a CA that signed nothing here: a client trusting only it must refuse the server. */
  otherCaFile: string;
  serverKey: string;
  serverCert: string;
  /** The server's key and certificate as files (for servers that read them, like Vault). */
  serverKeyFile: string;
  serverCertFile: string;
  close(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
  ]);
}

/** A CA, a server certificate it signed for localhost and 127.0.0.1, and an unrelated CA. */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(path.join(tmpdir(), 'test-pki-'));
  makeCa(dir, 'test-ca');
  makeCa(dir, 'other-ca');
  openssl(dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  ]);
  writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'test-ca.pem',
    '-CAkey',
    'test-ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'san.ext',
    '-out',
    'server.pem',
  ]);
  const read = (file: string) => readFileSync(path.join(dir, file), 'utf8');
  return {
    dir,
    caPem: read('test-ca.pem'),
    caFile: path.join(dir, 'test-ca.pem'),
    otherCaFile: path.join(dir, 'other-ca.pem'),
    serverKey: read('server.key'),
    serverCert: read('server.pem'),
    serverKeyFile: path.join(dir, 'server.key'),
    serverCertFile: path.join(dir, 'server.pem'),
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface Proxy {
  port: number;
  close(): Promise<void>;
}

async function listen(server: Server, sockets: Set<Socket>): Promise<Proxy> {
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function pipeBoth(client: Socket, upstream: Socket): void {
  client.pipe(upstream).pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
}

/** TLS on 127.0.0.1:<port>, forwarding the plain bytes to 127.0.0.1:targetPort (Vault, Redis). */
export function startTlsProxy(pki: TestPki, targetPort: number): Promise<Proxy> {
  const sockets = new Set<Socket>();
  const server = createTlsServer({ key: pki.serverKey, cert: pki.serverCert }, (client) => {
    sockets.add(client);
    pipeBoth(client, connect(targetPort, '127.0.0.1'));
  });
  server.on('tlsClientError', () => undefined);
  return listen(server, sockets);
}

/**
 * Postgres' TLS: the client first sends an 8-byte SSLRequest and reads one byte ('S': go
 * ahead); only then does the TLS handshake start. This proxy answers 'S', terminates TLS and
 * forwards the plain protocol to the Postgres server at host:targetPort.
 */
export function startPostgresTlsProxy(pki: TestPki, host: string, targetPort: number): Promise<Proxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    client.once('data', (first: Buffer) => {
      const isSslRequest = first.length === 8 && first.readUInt32BE(4) === 80877103;
      if (!isSslRequest) return void client.destroy();
      client.write('S');
      const secure = new TLSSocket(client, { isServer: true, key: pki.serverKey, cert: pki.serverCert });
      secure.on('error', () => client.destroy());
      secure.once('secure', () => pipeBoth(secure as unknown as Socket, connect(targetPort, host)));
    });
  });
  return listen(server, sockets);
}
