import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Database } from '../db/database.js';
import type { BodyStore } from '../files/body-store.js';
import { createEncryptStream, FORMAT_VERSION } from '../files/chunked-aead.js';
import type { KeyService } from '../keys/key-service.js';
import { AppError } from '../errors/app-error.js';
import { jarStore, type Jar, type JarFile } from './jar-store.js';

const FOREIGN_KEY_VIOLATION = '23503';

interface UploadFileInput {
  jar: Jar;
  uploadedBy: string;
  name: string;
  contentType: string;
  body: Readable;
  maxBytes: number;
}

/**
 * Stores one file: a fresh data key under the jar owner's key, the body encrypted into a
 * temp file, then the metadata row and the rename in one transaction. Whatever fails — the
 * key service, the client, the disk, the database — leaves neither a body nor a row.
 */
export async function uploadFile(
  deps: { db: Database; keys: KeyService; bodies: BodyStore },
  input: UploadFileInput,
): Promise<JarFile> {
  const fileId = randomUUID();
  const keyOwnerId = input.jar.ownerId;
  const dataKey = await deps.keys.createDataKey(keyOwnerId);
  const encrypt = createEncryptStream({ dataKey: dataKey.plaintext, fileId, ownerId: keyOwnerId });
  const pending = await deps.bodies
    .write(fileId, input.body, encrypt, { maxBytes: input.maxBytes })
    .finally(() => dataKey.plaintext.fill(0));
  try {
    return await deps.db.transaction(async (tx) => {
      const file = await jarStore.insertFile(tx, {
        id: fileId,
        jarId: input.jar.id,
        keyOwnerId,
        name: input.name,
        contentType: input.contentType,
        plainSize: pending.plainSize,
        storedSize: pending.storedSize,
        wrappedKey: dataKey.wrapped,
        keyVersion: dataKey.keyVersion,
        formatVersion: FORMAT_VERSION,
        uploadedBy: input.uploadedBy,
      });
      // Renamed inside the transaction: if COMMIT then fails, the catch below removes the body.
      await pending.commit();
      return file;
    });
  } catch (error) {
    await pending.discard();
    // The jar was deleted while its file was uploading.
    if ((error as { code?: string }).code === FOREIGN_KEY_VIOLATION)
      throw new AppError('not_found', 404, 'Jar not found.');
    throw error;
  }
}
