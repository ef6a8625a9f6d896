import type { Readable } from 'node:stream';
import type { BodyStore } from '../files/body-store.js';
import { createDecryptStream } from '../files/chunked-aead.js';
import type { KeyService } from '../keys/key-service.js';
import type { JarFile } from './jar-store.js';

/**
 * Opens a stored file as a plaintext stream. The data key is unwrapped first, so a key
 * service outage fails before any byte is sent; each chunk is verified before it is passed on.
 */
export async function openFileForReading(
  deps: { keys: KeyService; bodies: BodyStore },
  file: JarFile,
): Promise<Readable> {
  const dataKey = await deps.keys.unwrapDataKey(file.keyOwnerId, file.wrappedKey);
  const decrypt = createDecryptStream({ dataKey, fileId: file.id, ownerId: file.keyOwnerId });
  const body = deps.bodies.read(file.id);
  body.on('error', (error) => decrypt.destroy(error));
  return body.pipe(decrypt);
}
