import type { GatewayClient } from './client.js';
import { errorFromAnswer, fail, ok, type Result } from './errors.js';
import type { components } from './schema.js';

export type JarFile = components['schemas']['JarFile'];

/**
 * Uploads a file into a jar with progress (fetch cannot report upload progress, so this one call
 * uses XMLHttpRequest): the raw bytes with their own Content-Type, as the gateway streams them.
 */
export function uploadFile(
  gw: GatewayClient,
  input: {
    jarId: string;
    file: Blob;
    name: string;
    /** Called with the fraction sent, 0 to 1. */
    onProgress?: (fraction: number) => void;
    signal?: AbortSignal;
  },
): Promise<Result<JarFile>> {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    const url = `${gw.baseUrl}/api/jars/${encodeURIComponent(input.jarId)}/files?name=${encodeURIComponent(input.name)}`;
    xhr.open('POST', url);
    xhr.withCredentials = true;
    xhr.setRequestHeader('X-CSRF', '1');
    xhr.setRequestHeader('Content-Type', input.file.type || 'application/octet-stream');
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) input.onProgress?.(event.loaded / event.total);
    };
    xhr.onload = () => {
      let body: unknown;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = undefined;
      }
      const response = new Response(null, {
        status: xhr.status,
        headers: { 'retry-after': xhr.getResponseHeader('retry-after') ?? '' },
      });
      if (xhr.status === 201 && body) resolve(ok(body as JarFile));
      else if (xhr.status >= 200 && xhr.status < 300)
        resolve(
          fail({ kind: 'unexpected', status: xhr.status, message: 'The upload answer could not be read.' }),
        );
      else resolve(fail(errorFromAnswer(response, body)));
    };
    xhr.onerror = () =>
      resolve(fail({ kind: 'network', message: 'The upload stopped: the service cannot be reached.' }));
    xhr.onabort = () => resolve(fail({ kind: 'network', message: 'The upload was cancelled.' }));
    input.signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(input.file);
  });
}

/** The address of a file's download (same origin, the session cookie goes along): use it as a link. */
export const downloadUrl = (gw: GatewayClient, jarId: string, fileId: string): string =>
  `${gw.baseUrl}/api/jars/${encodeURIComponent(jarId)}/files/${encodeURIComponent(fileId)}`;
