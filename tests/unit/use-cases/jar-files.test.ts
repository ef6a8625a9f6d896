import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { AppError } from '../../../gateway/src/errors/app-error.js';
import { openFileForReading } from '../../../gateway/src/jars/download-file.js';
import { jarStore } from '../../../gateway/src/jars/jar-store.js';
import { uploadFile } from '../../../gateway/src/jars/upload-file.js';
import { startWorld, type UseCaseWorld } from './world.js';

/** Jar file upload and download called as use cases: no Express app, no HTTP server of the gateway's. */
describe('use case: jar files', () => {
  let world: UseCaseWorld;
  before(async () => {
    world = await startWorld();
  });
  after(() => world.close());

  const newJar = (ownerId: string) =>
    jarStore.insertJar(world.deps.db, { id: randomUUID(), ownerId, name: 'Papers', restricted: false });

  /** The stored bodies (and temporary files) in the body store's directory. */
  const storedBodies = async () => {
    const dir = dirname(world.deps.bodies.pathOf(randomUUID()));
    const names = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
    return names.filter((name) => name.endsWith('.bin') || name.endsWith('.tmp')).sort();
  };

  it("stores a file encrypted under the jar owner's key and reads it back", async () => {
    const owner = randomUUID();
    const editor = randomUUID();
    const jar = await newJar(owner);
    const content = `minutes of the meeting ${randomBytes(8).toString('hex')}\n`.repeat(2000);

    const file = await uploadFile(world.deps, {
      jar,
      uploadedBy: editor,
      name: 'minutes.txt',
      contentType: 'text/plain',
      body: Readable.from([Buffer.from(content)]),
      maxBytes: 1024 * 1024,
    });
    assert.equal(file.jarId, jar.id);
    assert.equal(file.plainSize, Buffer.byteLength(content));
    assert.equal(file.keyOwnerId, owner);
    assert.equal(file.uploadedBy, editor);
    assert.deepEqual(
      (await jarStore.listFiles(world.deps.db, jar.id)).map((f) => f.id),
      [file.id],
    );

    // On disk only ciphertext; the wrapped data key is no key in the clear either.
    const stored = await readFile(world.deps.bodies.pathOf(file.id));
    assert.ok(!stored.includes('minutes of the meeting'));
    assert.ok(stored.length > file.plainSize);

    const row = await jarStore.findFile(world.deps.db, jar.id, file.id);
    assert.equal(await text(await openFileForReading(world.deps, row!)), content);
  });

  it('refuses a body past the limit with payload_too_large and keeps neither row nor body', async () => {
    const jar = await newJar(randomUUID());
    const before = await storedBodies();
    await assert.rejects(
      uploadFile(world.deps, {
        jar,
        uploadedBy: jar.ownerId,
        name: 'big.bin',
        contentType: 'application/octet-stream',
        body: Readable.from([randomBytes(64 * 1024), randomBytes(64 * 1024)]),
        maxBytes: 100 * 1024,
      }),
      (err: unknown) => err instanceof AppError && err.code === 'payload_too_large' && err.status === 413,
    );
    assert.deepEqual(await jarStore.listFiles(world.deps.db, jar.id), []);
    assert.deepEqual(await storedBodies(), before);
  });

  it('answers not_found for a jar deleted during the upload, and leaves no body behind', async () => {
    const jar = await newJar(randomUUID());
    await jarStore.deleteJar(world.deps.db, jar.id);
    const before = await storedBodies();
    await assert.rejects(
      uploadFile(world.deps, {
        jar,
        uploadedBy: jar.ownerId,
        name: 'late.txt',
        contentType: 'text/plain',
        body: Readable.from([Buffer.from('too late')]),
        maxBytes: 1024,
      }),
      (err: unknown) => err instanceof AppError && err.code === 'not_found' && err.status === 404,
    );
    assert.deepEqual(await storedBodies(), before);
  });

  it('refuses to hand out a stored body that was tampered with', async () => {
    const jar = await newJar(randomUUID());
    const file = await uploadFile(world.deps, {
      jar,
      uploadedBy: jar.ownerId,
      name: 'ledger.csv',
      contentType: 'text/csv',
      body: Readable.from([Buffer.from('a,b,c\n1,2,3\n')]),
      maxBytes: 1024,
    });
    const path = world.deps.bodies.pathOf(file.id);
    const stored = await readFile(path);
    stored[stored.length - 5]! ^= 0x01;
    await writeFile(path, stored);
    const row = await jarStore.findFile(world.deps.db, jar.id, file.id);
    await assert.rejects(
      text(await openFileForReading(world.deps, row!)),
      (err: unknown) => err instanceof AppError && err.code === 'file_corrupt',
    );
  });
});
