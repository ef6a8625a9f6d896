import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import {
  DEFAULT_CHUNK_SIZE,
  createDecryptStream,
  createEncryptStream,
  encryptedSize,
  HEADER_SIZE,
  type FileCryptoOptions,
} from '../../gateway/src/files/chunked-aead.js';

const CHUNK = 1024;
const TAG = 16;
const base: FileCryptoOptions = {
  dataKey: randomBytes(32),
  fileId: 'file-1',
  ownerId: 'owner-1',
  chunkSize: CHUNK,
};

/** Runs a buffer through a transform, feeding it in uneven pieces like a socket would. */
async function run(input: Buffer, transform: Transform): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < input.length;) {
    const size = 1 + ((offset * 7919) % 3000);
    pieces.push(input.subarray(offset, offset + size));
    offset += size;
  }
  const out: Buffer[] = [];
  await pipeline(Readable.from(pieces), transform, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) out.push(chunk);
  });
  return Buffer.concat(out);
}

const encrypt = (plain: Buffer, options = base) => run(plain, createEncryptStream(options));
const decrypt = (stored: Buffer, options = base) => run(stored, createDecryptStream(options));

const rejectsAsCorrupt = (promise: Promise<unknown>) =>
  assert.rejects(promise, (error: { code?: string }) => error.code === 'file_corrupt');

/** Chunk `i` of an encrypted body (ciphertext and tag). */
const chunkAt = (stored: Buffer, i: number) =>
  stored.subarray(HEADER_SIZE + i * (CHUNK + TAG), HEADER_SIZE + (i + 1) * (CHUNK + TAG));

describe('streaming file encryption', () => {
  for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * 1024 * 1024 + 17]) {
    it(`round-trips ${size} bytes with the expected stored size`, async () => {
      const plain = randomBytes(size);
      const stored = await encrypt(plain);
      assert.equal(stored.length, encryptedSize(size, CHUNK));
      assert.deepEqual(await decrypt(stored), plain);
    });
  }

  it('round-trips with the default 1 MiB chunks', async () => {
    const plain = randomBytes(2 * DEFAULT_CHUNK_SIZE + 12_345);
    const options = { ...base, chunkSize: undefined };
    assert.deepEqual(await decrypt(await encrypt(plain, options), options), plain);
  });

  it('never stores the plaintext and never repeats a ciphertext for the same input', async () => {
    const plain = Buffer.alloc(4 * CHUNK, 'a');
    const first = await encrypt(plain);
    const second = await encrypt(plain);
    assert.ok(!first.includes(Buffer.alloc(64, 'a')));
    assert.notDeepEqual(chunkAt(first, 0), chunkAt(first, 1));
    assert.notDeepEqual(first, second);
  });

  describe('detects tampering', () => {
    const plain = randomBytes(3 * CHUNK + 100);

    it('a flipped bit in a chunk', async () => {
      const stored = await encrypt(plain);
      stored[HEADER_SIZE + CHUNK + 40] = (stored[HEADER_SIZE + CHUNK + 40] ?? 0) ^ 1;
      await rejectsAsCorrupt(decrypt(stored));
    });

    it('a modified header', async () => {
      const stored = await encrypt(plain);
      stored[12] = (stored[12] ?? 0) ^ 1;
      await rejectsAsCorrupt(decrypt(stored));
    });

    it('truncation at a chunk boundary', async () => {
      const stored = await encrypt(plain);
      await rejectsAsCorrupt(decrypt(stored.subarray(0, HEADER_SIZE + 2 * (CHUNK + TAG))));
    });

    it('truncation inside a chunk and a missing header', async () => {
      const stored = await encrypt(plain);
      await rejectsAsCorrupt(decrypt(stored.subarray(0, stored.length - 5)));
      await rejectsAsCorrupt(decrypt(stored.subarray(0, 10)));
    });

    it('an appended chunk', async () => {
      const stored = await encrypt(plain);
      await rejectsAsCorrupt(decrypt(Buffer.concat([stored, chunkAt(stored, 0)])));
    });

    it('reordered chunks', async () => {
      const stored = await encrypt(plain);
      const swapped = Buffer.concat([
        stored.subarray(0, HEADER_SIZE),
        chunkAt(stored, 1),
        chunkAt(stored, 0),
        stored.subarray(HEADER_SIZE + 2 * (CHUNK + TAG)),
      ]);
      await rejectsAsCorrupt(decrypt(swapped));
    });

    it('a chunk moved from another file under the same key', async () => {
      const stored = await encrypt(plain);
      const other = await encrypt(plain, { ...base, fileId: 'file-2' });
      const mixed = Buffer.from(stored);
      chunkAt(other, 1).copy(mixed, HEADER_SIZE + CHUNK + TAG);
      await rejectsAsCorrupt(decrypt(mixed));
    });

    it('a body presented as another file or another owner', async () => {
      const stored = await encrypt(plain);
      await rejectsAsCorrupt(decrypt(stored, { ...base, fileId: 'file-2' }));
      await rejectsAsCorrupt(decrypt(stored, { ...base, ownerId: 'owner-2' }));
    });

    it('a wrong data key', async () => {
      const stored = await encrypt(plain);
      await rejectsAsCorrupt(decrypt(stored, { ...base, dataKey: randomBytes(32) }));
    });
  });
});
