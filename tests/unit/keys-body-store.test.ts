import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createBodyStore, type BodyStore } from '../../gateway/src/files/body-store.js';
import { createDecryptStream, createEncryptStream } from '../../gateway/src/files/chunked-aead.js';

describe('encrypted body store', () => {
  let dir: string;
  let store: BodyStore;
  const crypto = { dataKey: randomBytes(32), fileId: 'f1', ownerId: 'o1' };
  const leftovers = async () => (await readdir(join(dir, 'tmp')).catch(() => [])).length;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bodies-'));
    store = createBodyStore(dir);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('writes ciphertext to a temp file and only shows it under its name after commit', async () => {
    const plain = randomBytes(150_000);
    const pending = await store.write('f1', Readable.from([plain]), createEncryptStream(crypto), {
      maxBytes: 1e6,
    });
    assert.equal(pending.plainSize, plain.length);
    await assert.rejects(readFile(store.pathOf('f1')));
    await pending.commit();
    const stored = await readFile(store.pathOf('f1'));
    assert.equal(stored.length, pending.storedSize);
    assert.ok(!stored.includes(plain.subarray(0, 32)));
    const chunks: Buffer[] = [];
    for await (const chunk of store.read('f1').pipe(createDecryptStream(crypto))) chunks.push(chunk);
    assert.deepEqual(Buffer.concat(chunks), plain);
    assert.equal(await leftovers(), 0);
  });

  it('rejects a body past the size limit with 413 and leaves no temp file', async () => {
    const source = Readable.from([randomBytes(600), randomBytes(600)]);
    await assert.rejects(
      store.write('f2', source, createEncryptStream({ ...crypto, fileId: 'f2' }), { maxBytes: 1000 }),
      (error: { status?: number }) => error.status === 413,
    );
    assert.equal(await leftovers(), 0);
    await assert.rejects(readFile(store.pathOf('f2')));
  });

  it('removes the temp file when the client stream fails mid-way', async () => {
    const source = new Readable({
      read() {
        this.push(randomBytes(1000));
        this.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
      },
    });
    await assert.rejects(
      store.write('f3', source, createEncryptStream({ ...crypto, fileId: 'f3' }), { maxBytes: 1e6 }),
      (error: { code?: string }) => error.code === 'upload_incomplete',
    );
    assert.equal(await leftovers(), 0);
  });

  it('discards a committed body when the metadata could not be saved', async () => {
    const pending = await store.write('f4', Readable.from([Buffer.from('x')]), createEncryptStream(crypto), {
      maxBytes: 10,
    });
    await pending.commit();
    await pending.discard();
    await assert.rejects(readFile(store.pathOf('f4')));
  });
});
