import { assertAnswerMatchesDocument } from './openapi-responses.js';

/**
 * A tiny cookie-keeping HTTP client for component tests: a browser stand-in that sends
 * the CSRF header and Origin like the SPA does, and remembers cookies. Every answer it
 * receives from the API is checked against the OpenAPI document (openapi/openapi.json).
 */
export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export class Browser {
  readonly cookies = new Map<string, string>();

  constructor(
    readonly baseUrl: string,
    readonly origin = 'http://localhost:3000',
  ) {}

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private remember(headers: Headers) {
    for (const line of headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => /expires=Thu, 01 Jan 1970/i.test(a)) || value === '';
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request<T = any>(
    method: string,
    path: string,
    options: {
      json?: unknown;
      body?: string | Buffer;
      headers?: Record<string, string>;
      csrf?: boolean;
    } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { Origin: this.origin, ...options.headers };
    if (options.csrf !== false && method !== 'GET') headers['X-CSRF'] = '1';
    if (this.cookies.size) headers.Cookie = this.cookieHeader();
    let body: string | Buffer | undefined = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['Content-Type'] ??= 'application/json';
    }
    const res = await fetch(this.baseUrl + path, {
      method,
      headers,
      body: body as BodyInit | undefined,
      redirect: 'manual',
    });
    this.remember(res.headers);
    const text = await res.text();
    assertAnswerMatchesDocument(
      method,
      res.url || this.baseUrl + path,
      res.status,
      text,
      res.headers.get('content-type'),
    );
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: keep the text */
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  }

  get<T = any>(path: string, options?: Parameters<Browser['request']>[2]) {
    return this.request<T>('GET', path, options);
  }
  post<T = any>(path: string, json?: unknown, options?: Parameters<Browser['request']>[2]) {
    return this.request<T>('POST', path, { ...options, json });
  }
  patch<T = any>(path: string, json?: unknown, options?: Parameters<Browser['request']>[2]) {
    return this.request<T>('PATCH', path, { ...options, json });
  }
  put<T = any>(path: string, json?: unknown, options?: Parameters<Browser['request']>[2]) {
    return this.request<T>('PUT', path, { ...options, json });
  }
  delete<T = any>(path: string, options?: Parameters<Browser['request']>[2]) {
    return this.request<T>('DELETE', path, options);
  }
}

let counter = 0;
/** A unique e-mail address for a test user. */
export const uniqueEmail = (tag = 'user') => `${tag}.${process.pid}.${Date.now()}.${counter++}@example.com`;

export const STRONG_PASSWORD = 'correct-horse-battery-staple-42';

/** The key test gateways expect in X-Webhook-Key, and every test Kratos sends. */
export const WEBHOOK_KEY = 'test-webhook-key-0123456789';
