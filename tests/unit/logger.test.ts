import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import { createLogger, isSecretName, redact } from '../../gateway/src/logging/logger.js';

/** A logger at info writing to memory, and the JSON lines it wrote. */
function capturedLogger() {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
  });
  return { logger: createLogger({ level: 'info', stream }), lines };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('log redaction', () => {
  it('names secrets by their field names, in every spelling', () => {
    for (const name of [
      'password',
      'newPassword',
      'session_token',
      'sessionTokenSealed',
      'cookie',
      'set-cookie',
      'authorization',
      'X-CSRF',
      'apiKey',
      'apikey',
      'x-webhook-key',
      'LOCAL_KEYRING_MASTER_KEY',
      'recoveryCode',
      'backup_codes',
      'totpSecret',
      'otp',
      'credentials',
    ]) {
      assert.equal(isSecretName(name), true, name);
    }
  });

  it('leaves fields that only mention a key or a code readable', () => {
    for (const name of [
      'errorCode',
      'statusCode',
      'keyName',
      'keyVersion',
      'passkeyId',
      'passkeys',
      'status',
      'identityId',
    ]) {
      assert.equal(isSecretName(name), false, name);
    }
  });

  it('keeps the error code of a line and redacts secret fields beside it', async () => {
    const { logger, lines } = capturedLogger();
    logger.info('request failed', {
      requestId: 'r-12345678',
      code: 'invalid_credentials',
      status: 401,
      password: 'hunter2hunter2',
      keyName: 'gateway-files',
    });
    await flush();
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.code, 'invalid_credentials');
    assert.equal(lines[0]!.status, 401);
    assert.equal(lines[0]!.password, '[redacted]');
    assert.equal(lines[0]!.keyName, 'gateway-files');
  });

  it('redacts a code inside a logged object, where it may be a one-time code', async () => {
    const { logger, lines } = capturedLogger();
    logger.info('kratos answered', { body: { method: 'code', code: '123456', flow: 'f1' } });
    await flush();
    assert.deepEqual(lines[0]!.body, { method: 'code', code: '[redacted]', flow: 'f1' });
  });

  it('redacts at any depth, in arrays too', () => {
    const out = redact({ a: { b: [{ sessionToken: 't', kept: 1 }] } }) as { a: { b: unknown[] } };
    assert.deepEqual(out.a.b, [{ sessionToken: '[redacted]', kept: 1 }]);
  });
});

describe('request lines', () => {
  const line = {
    requestId: 'req-1',
    method: 'GET',
    path: '/api/auth/session',
    status: 200,
    durationMs: 1.25,
  };

  it('are written at info as JSON lines shaped like every other line', async () => {
    const { logger, lines } = capturedLogger();
    logger.request(line);
    logger.request({ ...line, requestId: 'req-2', status: 499, aborted: true });
    await flush();
    await flush();
    assert.equal(lines.length, 2);
    const [first, second] = lines as Record<string, unknown>[];
    assert.deepEqual(Object.keys(first!), [
      'durationMs',
      'level',
      'message',
      'method',
      'path',
      'requestId',
      'status',
      'timestamp',
    ]);
    assert.equal(first!.level, 'info');
    assert.equal(first!.message, 'request');
    assert.equal(first!.path, '/api/auth/session');
    assert.equal(first!.status, 200);
    assert.ok(!Number.isNaN(Date.parse(first!.timestamp as string)));
    assert.equal(second!.aborted, true);
    assert.equal(second!.requestId, 'req-2');
  });

  it('are not written below info or when the logger is silent', async () => {
    const stream = new PassThrough();
    let written = '';
    stream.on('data', (chunk: Buffer) => (written += chunk.toString()));
    createLogger({ level: 'warn', stream }).request(line);
    createLogger({ level: 'info', silent: true, stream }).request(line);
    await flush();
    await flush();
    assert.equal(written, '');
  });
});
