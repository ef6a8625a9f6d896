import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createHttpTransport } from '../../gateway/src/kratos/http-transport.js';
import { callKratos, createKratosClient } from '../../gateway/src/kratos/client.js';
import { AppError } from '../../gateway/src/errors/app-error.js';

/** What the test server received last. */
interface Seen {
  method?: string;
  url?: string;
  headers?: http.IncomingHttpHeaders;
  body?: string;
}

describe('the Kratos client’s node:http fetch', () => {
  let server: http.Server;
  let base: string;
  const seen: Seen = {};
  const hanging = new Set<http.ServerResponse>();

  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        Object.assign(seen, { method: req.method, url: req.url, headers: req.headers, body });
        if (req.url === '/json') {
          res.setHeader('Content-Type', 'application/json');
          res.setHeader('Set-Cookie', ['a=1; Path=/', 'b=2; Path=/']);
          res.end(JSON.stringify({ echo: body }));
        } else if (req.url === '/redirect') {
          res.writeHead(303, { Location: '/json' }).end();
        } else if (req.url === '/moved') {
          res.writeHead(307, { Location: '/json' }).end();
        } else if (req.url === '/elsewhere') {
          res.writeHead(302, { Location: 'http://127.0.0.2:9/json' }).end();
        } else if (req.url === '/empty') {
          res.writeHead(204).end();
        } else if (req.url === '/refused') {
          res.writeHead(400, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ error: { id: 'x', code: 400, reason: 'No.' } }));
        } else if (req.url?.startsWith('/admin/identities/')) {
          const id = decodeURIComponent(req.url.slice('/admin/identities/'.length).split('?')[0]!);
          const identity = {
            id,
            state: 'active',
            traits: { email: 'a@example.com' },
            verifiable_addresses: [{ value: 'a@example.com', via: 'email', verified: true }],
            credentials: { password: { type: 'password', config: { hashed_password: '$2a$12$x' } } },
            created_at: '2026-01-01T00:00:00Z',
          };
          if (id === 'missing') res.writeHead(404, { 'Content-Type': 'application/json' }).end('{}');
          else if (id === 'garbled') res.writeHead(200).end('{"id":');
          else if (id === 'failing') res.writeHead(500).end('{}');
          else res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(identity));
        } else if (req.url === '/sessions/whoami') {
          hanging.add(res); // never answers
        } else {
          res.writeHead(404).end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const res of hanging) res.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('sends the method, headers and string body, and answers status, headers and body', async () => {
    const fetchApi = createHttpTransport({ timeoutMs: 2000 }).fetch;
    const res = await fetchApi(`${base}/json`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Session-Token': 'tok' },
      body: '{"a":"é"}',
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { echo: '{"a":"é"}' });
    assert.deepEqual(res.headers.getSetCookie(), ['a=1; Path=/', 'b=2; Path=/']);
    assert.equal(seen.method, 'POST');
    assert.equal(seen.headers?.['x-session-token'], 'tok');
    assert.equal(seen.headers?.['content-length'], String(Buffer.byteLength('{"a":"é"}')));
  });

  it('follows a redirect on the same origin as fetch does, and answers one elsewhere as it is', async () => {
    const fetchApi = createHttpTransport({ timeoutMs: 2000 }).fetch;
    const seeOther = await fetchApi(`${base}/redirect`, { method: 'POST', body: 'x' });
    assert.equal(seeOther.status, 200);
    assert.equal(seen.method, 'GET', 'a 303 is followed with a GET');
    assert.equal(seen.body, '');
    const temporary = await fetchApi(`${base}/moved`, { method: 'POST', body: 'kept' });
    assert.equal(temporary.status, 200);
    assert.equal(seen.method, 'POST', 'a 307 keeps the method and the body');
    assert.deepEqual(await temporary.json(), { echo: 'kept' });
    const elsewhere = await fetchApi(`${base}/elsewhere`, { headers: { 'X-Session-Token': 'tok' } });
    assert.equal(elsewhere.status, 302, 'the token never leaves for another origin');
    assert.equal(elsewhere.headers.get('location'), 'http://127.0.0.2:9/json');
  });

  it('answers 204 with an empty body', async () => {
    const res = await createHttpTransport({ timeoutMs: 2000 }).fetch(`${base}/empty`);
    assert.equal(res.status, 204);
    assert.equal(await res.text(), '');
  });

  it('gives up at its deadline when the server does not answer', async () => {
    const started = Date.now();
    await assert.rejects(
      createHttpTransport({ timeoutMs: 150 }).fetch(`${base}/sessions/whoami`),
      /within 150 ms/,
    );
    assert.ok(Date.now() - started < 2000);
  });

  it('rejects when nothing listens', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(
      createHttpTransport({ timeoutMs: 2000 }).fetch(`http://127.0.0.1:${port}/json`),
      /ECONNREFUSED/,
    );
  });

  it('hands a body that is not a string to the global fetch', async () => {
    const res = await createHttpTransport({ timeoutMs: 2000 }).fetch(`${base}/json`, {
      method: 'POST',
      body: new URLSearchParams({ q: '1' }),
    });
    assert.equal(res.status, 200);
    assert.equal(seen.body, 'q=1');
  });

  it('through the client: a refusal is Kratos’ 4xx, a silent Kratos a 503', async () => {
    const client = createKratosClient({ publicUrl: base, adminUrl: base, timeoutMs: 150 });
    const refused = await callKratos(() =>
      client.frontend.createNativeLoginFlowRaw({}, { headers: {} }).then(() => undefined),
    ).catch((err: unknown) => err);
    // The test server answers the flow path 404: Kratos' refusal keeps its status.
    assert.ok(refused instanceof AppError);
    assert.equal(refused.status, 404);
    const silent = await client.whoami({ token: 'tok' }).catch((err: unknown) => err);
    assert.ok(silent instanceof AppError);
    assert.equal(silent.status, 503);
    assert.equal(silent.code, 'kratos_unavailable');
  });

  it('reads an identity straight over HTTP: parsed, absent, garbled and failing', async () => {
    const client = createKratosClient({ publicUrl: base, adminUrl: base, timeoutMs: 2000 });
    const identity = await client.getIdentity('id/with?odd#chars');
    assert.equal(identity?.id, 'id/with?odd#chars', 'the id travels encoded');
    assert.equal(seen.url, '/admin/identities/id%2Fwith%3Fodd%23chars?include_credential=password');
    assert.equal(identity?.email, 'a@example.com');
    assert.equal(identity?.emailVerified, true);
    assert.deepEqual(identity?.credentialTypes, ['password']);
    assert.equal(identity?.createdAt, '2026-01-01T00:00:00.000Z');
    assert.equal(await client.getIdentity('missing'), undefined);
    for (const [id, code] of [
      ['garbled', 'kratos_invalid_response'],
      ['failing', 'kratos_unavailable'],
    ] as const) {
      const err = await client.getIdentity(id).catch((e: unknown) => e);
      assert.ok(err instanceof AppError, String(err));
      assert.equal(err.status, 502);
      assert.equal(err.code, code);
    }
  });
});
