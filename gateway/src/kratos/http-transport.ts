import http from 'node:http';
import https from 'node:https';

/** An answer as it came: status, headers in pairs, the whole body. */
export interface RawAnswer {
  status: number;
  statusText: string;
  /** Names and values alternating, as node:http gives them. */
  rawHeaders: string[];
  body: Buffer<ArrayBuffer>;
}

const MAX_REDIRECTS = 20;

/**
 * Where a redirect answer points, when the SDK's fetch follows it: a 3xx with a Location on
 * the same origin (Kratos moving an admin path, such as /health/ready to /admin/health/ready).
 * A redirect elsewhere is answered as it is: the session token never leaves for another host.
 */
function redirectTarget(answer: RawAnswer, from: string): string | undefined {
  if (![301, 302, 303, 307, 308].includes(answer.status)) return undefined;
  const at = answer.rawHeaders.findIndex((h, i) => i % 2 === 0 && h.toLowerCase() === 'location');
  const location = at >= 0 ? answer.rawHeaders[at + 1] : undefined;
  if (!location) return undefined;
  const target = new URL(location, from);
  return target.origin === new URL(from).origin ? target.href : undefined;
}

/** The WHATWG Response of a raw answer (what the SDK and its ResponseError read). */
export function toResponse(answer: RawAnswer, method = 'GET'): Response {
  const headers = new Headers();
  const raw = answer.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(String(raw[i]), String(raw[i + 1]));
  const { status } = answer;
  const empty = status === 204 || status === 205 || status === 304 || method === 'HEAD';
  return new Response(empty ? null : answer.body, { status, statusText: answer.statusText, headers });
}

/**
 * The Kratos client's HTTP: node:http with keep-alive agents. `request` answers the raw
 * status, headers and body, for the calls on every sign-in that parse Kratos' JSON
 * themselves; `fetch` is what the SDK calls for the rest. Node's own fetch builds WHATWG
 * streams, abort signals and a timer per call and costs several times the CPU of a plain
 * request. The SDK only sends string bodies with plain header objects; anything else goes
 * to the global fetch.
 *
 * Every call has a deadline (`timeoutMs`, connection and answer together): past it the
 * request is destroyed and the promise rejects, which the client reports as Kratos
 * unavailable. `fetch` follows redirects on Kratos' own origin, as Node's fetch would;
 * `request` answers them as they are.
 */
export function createHttpTransport(options: { timeoutMs: number }) {
  const agents = {
    'http:': new http.Agent({ keepAlive: true }),
    'https:': new https.Agent({ keepAlive: true }),
  };

  function request(
    href: string,
    method: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<RawAnswer> {
    const url = new URL(href);
    const agent = url.protocol === 'https:' ? agents['https:'] : agents['http:'];
    const transport = url.protocol === 'https:' ? https : http;
    const sent =
      body === undefined ? headers : { ...headers, 'Content-Length': String(Buffer.byteLength(body)) };
    return new Promise<RawAnswer>((resolve, reject) => {
      const req = transport.request(url, { method, headers: sent, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', fail);
        res.on('end', () => {
          clearTimeout(deadline);
          resolve({
            status: res.statusCode ?? 502,
            statusText: res.statusMessage ?? '',
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks),
          });
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

  const fetchApi: typeof fetch = async (input, init) => {
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
    let href = input;
    let method = init?.method ?? 'GET';
    let sent = body ?? undefined;
    for (let hops = 0; ; hops++) {
      const answer = await request(href, method, headers ?? {}, sent);
      const location = redirectTarget(answer, href);
      if (!location || hops === MAX_REDIRECTS || init?.redirect === 'manual') {
        // A status outside 200–599 or a malformed header makes no Response: a rejection, like fetch's.
        return toResponse(answer, method);
      }
      // As fetch does: a 303 (and a 301 or 302 after a POST) is followed with a GET and no body.
      if (answer.status === 303 || ((answer.status === 301 || answer.status === 302) && method === 'POST')) {
        method = 'GET';
        sent = undefined;
      }
      href = location;
    }
  };

  return { request, fetch: fetchApi };
}
