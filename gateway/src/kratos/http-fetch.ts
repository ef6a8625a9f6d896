import http from 'node:http';
import https from 'node:https';

/**
 * The `fetch` the Kratos SDK calls, over node:http with keep-alive agents. Node's own fetch
 * builds WHATWG streams, abort signals and a timer per call and costs several times the CPU
 * of a plain request, on the path of every sign-in and every whoami. The SDK only sends
 * string bodies with plain header objects; anything else goes to the global fetch.
 *
 * Every call has a deadline (`timeoutMs`, connection and answer together): past it the
 * request is destroyed and the promise rejects, which the client reports as Kratos
 * unavailable. Redirects are answered as they are, not followed: Kratos is always asked
 * for JSON, and a 3xx from it is a failure the client reports.
 */
export function createHttpFetch(options: { timeoutMs: number }): typeof fetch {
  const agents = {
    'http:': new http.Agent({ keepAlive: true }),
    'https:': new https.Agent({ keepAlive: true }),
  };

  return (input, init) => {
    const body = init?.body;
    const headers = init?.headers;
    const plainHeaders =
      headers === undefined ||
      (typeof headers === 'object' && !(headers instanceof Headers) && !Array.isArray(headers));
    if (
      typeof input !== 'string' ||
      init?.signal ||
      !plainHeaders ||
      (body !== undefined && body !== null && typeof body !== 'string')
    ) {
      return fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(options.timeoutMs) });
    }
    return request(input, init?.method ?? 'GET', headers ?? {}, body ?? undefined);
  };

  function request(
    href: string,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<Response> {
    const url = new URL(href);
    const agent = url.protocol === 'https:' ? agents['https:'] : agents['http:'];
    const transport = url.protocol === 'https:' ? https : http;
    const sent =
      body === undefined ? headers : { ...headers, 'Content-Length': String(Buffer.byteLength(body)) };
    return new Promise<Response>((resolve, reject) => {
      const req = transport.request(url, { method, headers: sent, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', fail);
        res.on('end', () => {
          clearTimeout(deadline);
          const status = res.statusCode ?? 502;
          const answerHeaders = new Headers();
          const raw = res.rawHeaders;
          for (let i = 0; i + 1 < raw.length; i += 2)
            answerHeaders.append(String(raw[i]), String(raw[i + 1]));
          const empty = status === 204 || status === 205 || status === 304 || method === 'HEAD';
          try {
            resolve(
              new Response(empty ? null : Buffer.concat(chunks), {
                status,
                statusText: res.statusMessage ?? '',
                headers: answerHeaders,
              }),
            );
          } catch (err) {
            // A status outside 200–599 or a malformed header: no answer the SDK could read.
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
      });
      const deadline = setTimeout(() => {
        const late = new Error(`no answer from ${url.origin} within ${options.timeoutMs} ms`);
        req.destroy(late);
        reject(late);
      }, options.timeoutMs);
      function fail(err: Error) {
        clearTimeout(deadline);
        reject(err);
      }
      req.on('error', fail);
      req.end(body);
    });
  }
}
