import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { startKratosDouble, type KratosDouble } from '../doubles/kratos/index.js';

const PASSWORD = 'correct-horse-battery-staple-42';

async function call(base: string, method: string, pathAndQuery: string, json?: unknown) {
  const response = await fetch(`${base}${pathAndQuery}`, {
    method,
    headers: {
      accept: 'application/json',
      ...(json === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as any };
}

async function createIdentity(kratos: KratosDouble, email: string): Promise<string> {
  const created = await call(kratos.adminUrl, 'POST', '/admin/identities', {
    schema_id: 'default',
    traits: { email },
    credentials: { password: { config: { password: PASSWORD } } },
  });
  assert.equal(created.status, 201);
  return created.body.id as string;
}

async function passwordLogin(kratos: KratosDouble, identifier: string) {
  const flow = await call(kratos.publicUrl, 'GET', '/self-service/login/api');
  return call(kratos.publicUrl, 'POST', `/self-service/login?flow=${flow.body.id}`, {
    method: 'password',
    identifier,
    password: PASSWORD,
  });
}

describe('Kratos double: state kept in a file (npm run dev)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kratos-double-state-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps identities and sessions across a restart', async () => {
    const statePath = path.join(dir, 'restart', 'kratos-double.json');
    const first = await startKratosDouble({ statePath });
    const id = await createIdentity(first, 'kept@example.com');
    const login = await passwordLogin(first, 'kept@example.com');
    assert.equal(login.status, 200);
    await first.close();

    const second = await startKratosDouble({ statePath });
    try {
      const identity = await call(second.adminUrl, 'GET', `/admin/identities/${id}`);
      assert.equal(identity.status, 200);
      assert.equal(identity.body.traits.email, 'kept@example.com');
      const whoami = await fetch(`${second.publicUrl}/sessions/whoami`, {
        headers: { 'x-session-token': login.body.session_token as string },
      });
      assert.equal(whoami.status, 200);
      assert.equal(((await whoami.json()) as { identity: { id: string } }).identity.id, id);
      assert.equal((await passwordLogin(second, 'kept@example.com')).status, 200);
    } finally {
      await second.close();
    }
  });

  it('writes after each response, before it is closed', async () => {
    const statePath = path.join(dir, 'live.json');
    const kratos = await startKratosDouble({ statePath });
    try {
      const id = await createIdentity(kratos, 'written@example.com');
      await new Promise((resolve) => setImmediate(resolve));
      const saved = JSON.parse(readFileSync(statePath, 'utf8')) as { identities: [string, unknown][] };
      assert.deepEqual(
        saved.identities.map(([key]) => key),
        [id],
      );
      // It holds password hashes and session tokens: readable by its owner only.
      assert.equal(statSync(statePath).mode & 0o777, 0o600);
    } finally {
      await kratos.close();
    }
  });

  it('starts empty without a state file, and keeps nothing of another double', async () => {
    const statePath = path.join(dir, 'own.json');
    const withFile = await startKratosDouble({ statePath });
    await createIdentity(withFile, 'elsewhere@example.com');
    await withFile.close();
    const inMemory = await startKratosDouble();
    try {
      const list = await call(inMemory.adminUrl, 'GET', '/admin/identities');
      assert.deepEqual(list.body, []);
    } finally {
      await inMemory.close();
    }
  });

  it('refuses a file it cannot read, naming it', async () => {
    const statePath = path.join(dir, 'broken.json');
    writeFileSync(statePath, '{"identities": 3}');
    await assert.rejects(startKratosDouble({ statePath }), (error: Error) => {
      assert.match(error.message, /broken\.json is not a Kratos double state file/);
      return true;
    });
  });
});
