import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { Express } from 'express';
import { createApp } from '../../gateway/src/app.js';
import { createOpenApiDocument } from '../../gateway/src/openapi/document.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser } from '../helpers/http.js';

const committed = JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'));

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  rawPath?: string | string[];
}

/** Every method and path Express has mounted, read from the router stacks (`:id` as `{id}`). */
function mountedRoutes(app: Express): Set<string> {
  const found = new Set<string>();
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = [layer.route.path].flat();
        for (const path of paths)
          for (const method of Object.keys(layer.route.methods))
            found.add(`${method} ${(prefix + path).replace(/:(\w+)/g, '{$1}')}`);
      } else if (layer.handle?.stack) {
        const raw = [layer.rawPath ?? '/'].flat()[0] ?? '/';
        walk(layer.handle.stack, prefix + (raw === '/' ? '' : raw));
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return found;
}

const documented = (doc: { paths: Record<string, Record<string, unknown>> }) =>
  new Set(
    Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`)),
  );

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway();
});
after(() => gw.close());

describe('GET /api/openapi.json', () => {
  it('answers the generated document, public and cacheable, without a session', async () => {
    const res = await new Browser(gw.url).get('/api/openapi.json');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.match(res.headers.get('cache-control') ?? '', /public, max-age=\d+/);
    assert.equal(res.headers.getSetCookie().length, 0, 'no session is started for it');
    assert.deepEqual(res.body, createOpenApiDocument());
    assert.deepEqual(res.body, committed, 'openapi/openapi.json is current (npm run openapi)');
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(committed));
    assert.equal(validator.version, '3.1');
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
  });

  it('describes every route Express has mounted under /api', () => {
    const app = createApp(gw.deps);
    const api = [...mountedRoutes(app)].filter((route) => / \/api\//.test(route));
    assert.ok(api.length > 40, `found only ${api.length} routes: is the router walk still right?`);
    const described = documented(committed);
    const missing = api.filter((route) => !described.has(route));
    assert.deepEqual(missing, [], 'mounted but not in the document');
  });

  it('describes no operation the gateway does not serve', async () => {
    // Asked for real (the session checks answer ahead of the routers, where no walk sees them):
    // an operation that exists never answers the catch-all 404.
    const browser = new Browser(gw.url);
    const unserved: string[] = [];
    for (const route of documented(committed)) {
      const [method, template] = route.split(' ') as [string, string];
      const path = template.replace(/\{\w+\}/g, '00000000-0000-4000-8000-000000000000');
      const res = await browser.request(method.toUpperCase(), path, method === 'get' ? {} : { json: {} });
      if (res.status === 404 && res.body?.error?.message === 'No such endpoint.') unserved.push(route);
    }
    assert.deepEqual(unserved, [], 'in the document but not served');
    const probe = await browser.get('/api/auth/no-such-route');
    assert.equal(probe.body.error.message, 'No such endpoint.', 'the catch-all answer this test looks for');
  });

  it('declares the CSRF header on every state-changing operation and a session on every guarded one', () => {
    for (const [path, ops] of Object.entries(committed.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(ops)) {
        const schemes = (op.security as Record<string, string[]>[]).map((s) =>
          Object.keys(s).sort().join('+'),
        );
        if (method !== 'get')
          assert.ok(
            schemes.length > 0 && schemes.every((s) => s.includes('csrfHeader')),
            `${method} ${path}`,
          );
        const codes = JSON.stringify(op.responses['401'] ?? {});
        if (codes.includes('UnauthenticatedError') && path !== '/api/auth/session')
          assert.ok(
            schemes.some((s) => s.includes('sessionCookie')),
            `${method} ${path} names no session`,
          );
      }
    }
  });
});
