import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { AppError } from '../errors/app-error.js';

/**
 * Streaming AES-256-GCM for file bodies, in fixed-size chunks so memory stays constant.
 *
 * Layout: a 32-byte header, then chunks of `chunkSize` plaintext bytes (the last one
 * shorter, possibly empty), each followed by its 16-byte tag.
 *
 *   header = "HJAR" | format version (1) | chunk size (u32 BE) | salt (16) | nonce prefix (7)
 *
 * Each file gets its own chunk key, HKDF(data key, salt), and chunk i is sealed with the
 * nonce `prefix | i (u32 BE) | final flag`, so no nonce repeats under a key. The AAD binds
 * the header, the file id, the owner id, the index and the final flag: dropping the last
 * chunks, reordering chunks, or moving a chunk or a whole body to another file or owner
 * fails authentication.
 */

export const FORMAT_VERSION = 1;
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
export const HEADER_SIZE = 32;
const TAG_SIZE = 16;
const MAGIC = Buffer.from('HJAR');
/** Bounds the buffer a (possibly forged) header can make us allocate before anything is verified. */
const MAX_CHUNK_SIZE = 8 * 1024 * 1024;

export interface FileCryptoOptions {
  /** The file's 32-byte data key. */
  dataKey: Buffer;
  fileId: string;
  ownerId: string;
  /** Plaintext bytes per chunk when encrypting; default 1 MiB. Decryption reads it from the header. */
  chunkSize?: number;
}

const corrupt = (reason: string) =>
  new AppError('file_corrupt', 500, 'The stored file failed its integrity check.', {
    cause: new Error(reason),
  });

function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** Everything a chunk's key, nonce and AAD depend on, computed once per file. */
class ChunkSealer {
  private readonly key: Buffer;
  private readonly aadPrefix: Buffer;
  private readonly noncePrefix: Buffer;

  constructor(
    readonly header: Buffer,
    options: FileCryptoOptions,
  ) {
    const salt = header.subarray(9, 25);
    this.noncePrefix = header.subarray(25, 32);
    this.key = Buffer.from(hkdfSync('sha256', options.dataKey, salt, 'honey-jar file chunks v1', 32));
    this.aadPrefix = Buffer.concat([header, lengthPrefixed(options.fileId), lengthPrefixed(options.ownerId)]);
  }

  private nonceAndAad(index: number, final: boolean): [Buffer, Buffer] {
    const position = Buffer.alloc(5);
    position.writeUInt32BE(index);
    position[4] = final ? 1 : 0;
    return [Buffer.concat([this.noncePrefix, position]), Buffer.concat([this.aadPrefix, position])];
  }

  seal(index: number, final: boolean, plaintext: Buffer): Buffer[] {
    const [nonce, aad] = this.nonceAndAad(index, final);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce).setAAD(aad);
    const body = cipher.update(plaintext);
    const last = cipher.final();
    return last.length > 0 ? [body, last, cipher.getAuthTag()] : [body, cipher.getAuthTag()];
  }

  open(index: number, final: boolean, sealed: Buffer): Buffer {
    const [nonce, aad] = this.nonceAndAad(index, final);
    const decipher = createDecipheriv('aes-256-gcm', this.key, nonce).setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
    const body = decipher.update(sealed.subarray(0, sealed.length - TAG_SIZE));
    try {
      decipher.final();
    } catch {
      throw corrupt(`chunk ${index} failed authentication`);
    }
    return body;
  }
}

function newHeader(chunkSize: number): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  MAGIC.copy(header, 0);
  header[4] = FORMAT_VERSION;
  header.writeUInt32BE(chunkSize, 5);
  randomBytes(23).copy(header, 9);
  return header;
}

/**
 * Collects stream input into fixed-size units in one reused buffer and hands a unit on
 * only once more input arrives, so the subclass knows which unit is the last.
 */
abstract class Chunker extends Transform {
  private buffer = Buffer.alloc(0);
  private filled = 0;

  protected setUnit(size: number): void {
    this.buffer = Buffer.allocUnsafe(size);
  }

  protected abstract onUnit(unit: Buffer, final: boolean): void;

  protected consume(data: Buffer): void {
    let offset = 0;
    const unit = this.buffer.length;
    while (offset < data.length) {
      if (this.filled === unit) {
        this.onUnit(this.buffer, false);
        this.filled = 0;
      }
      // Whole units followed by more input are handed on in place, without a copy.
      if (this.filled === 0 && data.length - offset > unit) {
        this.onUnit(data.subarray(offset, offset + unit), false);
        offset += unit;
        continue;
      }
      const copied = data.copy(this.buffer, this.filled, offset);
      this.filled += copied;
      offset += copied;
    }
  }

  protected finish(): void {
    this.onUnit(this.buffer.subarray(0, this.filled), true);
    this.filled = 0;
  }
}

class EncryptStream extends Chunker {
  private readonly sealer: ChunkSealer;
  private index = 0;
  private headerSent = false;

  constructor(options: FileCryptoOptions) {
    super();
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE)
      throw new Error('invalid chunk size');
    this.sealer = new ChunkSealer(newHeader(chunkSize), options);
    this.setUnit(chunkSize);
  }

  private sendHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    this.push(this.sealer.header);
  }

  protected onUnit(unit: Buffer, final: boolean): void {
    for (const part of this.sealer.seal(this.index, final, unit)) this.push(part);
    this.index += 1;
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.sendHeader();
    this.consume(data);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.sendHeader();
    this.finish();
    callback();
  }
}

class DecryptStream extends Chunker {
  private sealer: ChunkSealer | undefined;
  private readonly header = Buffer.alloc(HEADER_SIZE);
  private headerFilled = 0;
  private index = 0;

  constructor(private readonly options: FileCryptoOptions) {
    super();
  }

  private readHeader(data: Buffer): Buffer {
    const copied = data.copy(this.header, this.headerFilled);
    this.headerFilled += copied;
    if (this.headerFilled < HEADER_SIZE) return Buffer.alloc(0);
    if (!this.header.subarray(0, 4).equals(MAGIC)) throw corrupt('not an encrypted file body');
    if (this.header[4] !== FORMAT_VERSION) throw corrupt(`unknown format version ${this.header[4]}`);
    const chunkSize = this.header.readUInt32BE(5);
    if (chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) throw corrupt('invalid chunk size');
    this.sealer = new ChunkSealer(this.header, this.options);
    this.setUnit(chunkSize + TAG_SIZE);
    return data.subarray(copied);
  }

  protected onUnit(unit: Buffer, final: boolean): void {
    if (!this.sealer) throw corrupt('missing header');
    if (unit.length < TAG_SIZE) throw corrupt('truncated chunk');
    this.push(this.sealer.open(this.index, final, unit));
    this.index += 1;
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(this.sealer ? data : this.readHeader(data));
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (!this.sealer) throw corrupt('truncated header');
      this.finish();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }
}

/** A Transform from plaintext to the encrypted body format. */
export function createEncryptStream(options: FileCryptoOptions): Transform {
  return new EncryptStream(options);
}

/**
 * A Transform from an encrypted body back to plaintext. Each chunk is verified before it
 * is passed on; a tampered, truncated or misplaced body errors with `file_corrupt`.
 */
export function createDecryptStream(options: FileCryptoOptions): Transform {
  return new DecryptStream(options);
}

/** The stored size of a plaintext of `plainSize` bytes. */
export function encryptedSize(plainSize: number, chunkSize = DEFAULT_CHUNK_SIZE): number {
  const chunks = Math.max(1, Math.ceil(plainSize / chunkSize));
  return HEADER_SIZE + plainSize + chunks * TAG_SIZE;
}
