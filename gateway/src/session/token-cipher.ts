import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'v1';

/**
 * Seals secrets kept inside sessions (the Kratos session token) with AES-256-GCM, so a
 * read of Redis alone does not yield a usable credential. Format: `v1.<iv>.<tag>.<data>`.
 */
export function createTokenCipher(key: Buffer) {
  if (key.length !== 32) throw new Error('token cipher key must be 32 bytes');
  // Every check of a session that holds a Kratos token opens it: remember the last openings.
  const opened = new Map<string, string>();
  const OPENED_MAX = 10_000;
  const openSealed = (sealed: string, context: string): string | undefined => {
    const [version, iv, tag, data] = sealed.split('.');
    if (version !== VERSION || !iv || !tag || data === undefined) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      return undefined;
    }
  };
  return {
    seal(plaintext: string, context: string): string {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(context));
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [
        VERSION,
        iv.toString('base64url'),
        cipher.getAuthTag().toString('base64url'),
        data.toString('base64url'),
      ].join('.');
    },
    /** Returns undefined for anything that was not sealed with this key and context. */
    open(sealed: string, context: string): string | undefined {
      const memoKey = `${context}\u0000${sealed}`;
      const known = opened.get(memoKey);
      if (known !== undefined) return known;
      const plaintext = openSealed(sealed, context);
      if (plaintext === undefined) return undefined;
      if (opened.size >= OPENED_MAX) {
        const oldest = opened.keys().next();
        if (!oldest.done) opened.delete(oldest.value);
      }
      opened.set(memoKey, plaintext);
      return plaintext;
    },
  };
}

export type TokenCipher = ReturnType<typeof createTokenCipher>;
