import { createHash } from 'node:crypto';
import type { Queryable } from '../db/database.js';
import type { BodyStore } from '../files/body-store.js';
import { jarStore, type JarFile } from './jar-store.js';
import { openFileForReading } from './download-file.js';
import type { KeyService } from '../keys/key-service.js';

interface VerifyReport {
  checked: number;
  failures: { fileId: string; reason: string }[];
}

/** Decrypts the whole file, checking every chunk's tag and the stored size. */
async function checkFile(
  deps: { keys: KeyService; bodies: BodyStore },
  file: JarFile,
): Promise<string | undefined> {
  try {
    let size = 0;
    const hash = createHash('sha256');
    for await (const chunk of await openFileForReading(deps, file)) {
      size += (chunk as Buffer).length;
      hash.update(chunk as Buffer);
    }
    if (size !== file.plainSize) return `size ${size} differs from the recorded ${file.plainSize}`;
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code ?? (error instanceof Error ? error.message : 'failed');
  }
}

/** Decrypts a random sample of stored files (or all of them) and reports each failure. */
export async function verifyFiles(
  deps: { db: Queryable; keys: KeyService; bodies: BodyStore },
  options: { sample?: number },
): Promise<VerifyReport> {
  const files = await jarStore.sampleFiles(deps.db, options.sample ?? null);
  const failures: VerifyReport['failures'] = [];
  for (const file of files) {
    const reason = await checkFile(deps, file);
    if (reason) failures.push({ fileId: file.id, reason });
  }
  return { checked: files.length, failures };
}
