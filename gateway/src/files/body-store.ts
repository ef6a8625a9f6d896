import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../errors/app-error.js';
import { ByteLimit } from './byte-limit.js';

/** An encrypted body written to a temp file, fsynced, waiting to be committed or discarded. */
interface PendingBody {
  plainSize: number;
  storedSize: number;
  /** Moves the body to its final name (rename + directory fsync). */
  commit(): Promise<void>;
  /** Removes the temp file; safe to call after a failed or a successful commit. */
  discard(): Promise<void>;
}

/** Encrypted file bodies in a directory, named by file id. */
export interface BodyStore {
  /**
   * Streams `source` through `encrypt` into a temp file. On any failure (size limit,
   * client abort, disk) the temp file is removed before the error is rethrown.
   */
  write(
    fileId: string,
    source: Readable,
    encrypt: Transform,
    options: { maxBytes: number },
  ): Promise<PendingBody>;
  read(fileId: string): Readable;
  remove(fileId: string): Promise<void>;
  /** The path of a stored body (tests and the CLI look at it). */
  pathOf(fileId: string): string;
}

const FILE_ID = /^[A-Za-z0-9-]{1,64}$/;

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A client that went away is the client's problem (400); anything else is ours (500). */
function asUploadError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'ECONNABORTED'].includes(code)) {
    return new AppError('upload_incomplete', 400, 'The upload did not complete.', { cause: error });
  }
  return new AppError('storage_error', 500, 'The file could not be stored.', { cause: error });
}

export function createBodyStore(dir: string): BodyStore {
  const tempDir = join(dir, 'tmp');
  const pathOf = (fileId: string) => {
    if (!FILE_ID.test(fileId)) throw new Error('invalid file id');
    return join(dir, `${fileId}.bin`);
  };

  return {
    pathOf,
    async write(fileId, source, encrypt, options) {
      const finalPath = pathOf(fileId);
      await mkdir(tempDir, { recursive: true, mode: 0o700 });
      const tempPath = join(tempDir, `${fileId}.${randomBytes(6).toString('hex')}.tmp`);
      const limit = new ByteLimit(options.maxBytes);
      try {
        await pipeline(source, limit, encrypt, createWriteStream(tempPath, { flags: 'wx', mode: 0o600 }));
        await fsyncPath(tempPath);
      } catch (error) {
        await rm(tempPath, { force: true });
        throw asUploadError(error);
      }
      const storedSize = (await stat(tempPath)).size;
      let committed = false;
      return {
        plainSize: limit.bytes,
        storedSize,
        async commit() {
          await rename(tempPath, finalPath);
          committed = true;
          await fsyncPath(dir);
        },
        async discard() {
          await rm(committed ? finalPath : tempPath, { force: true });
        },
      };
    },
    read: (fileId) => createReadStream(pathOf(fileId)),
    remove: (fileId) => rm(pathOf(fileId), { force: true }),
  };
}
