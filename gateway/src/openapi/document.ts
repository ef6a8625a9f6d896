import type { RequestHandler } from 'express';
import { z } from 'zod';
import {
  createDocument,
  type ZodOpenApiOperationObject,
  type ZodOpenApiPathsObject,
  type ZodOpenApiResponseObject,
} from 'zod-openapi';
import {
  errorBody,
  mergeErrors,
  PRIVILEGED_ERRORS,
  SERVER_ERRORS,
  SIGNED_IN_ERRORS,
  WRITE_ERRORS,
  type ErrorCodes,
} from './errors.js';
import { operations, type Access, type Operation } from './operations.js';
import { recoveryCompleted } from '../account/schemas.js';
import { sessionResponse } from '../session/schemas.js';

const ACCESS_ERRORS: Record<Access, ErrorCodes> = {
  public: {},
  incomplete: { 401: ['unauthenticated'], 403: ['aal2_required'] },
  session: SIGNED_IN_ERRORS,
  privileged: PRIVILEGED_ERRORS,
  admin: mergeErrors(PRIVILEGED_ERRORS, { 403: ['forbidden'] }),
};

const STATUS_TEXT: Record<number, string> = {
  400: 'The request is not valid.',
  401: 'Not signed in, or the credentials are wrong.',
  403: 'Refused: see the code (a stronger or more recent sign-in, the CSRF header, a permission).',
  404: 'Not found.',
  409: 'Conflicts with the current state.',
  410: 'The flow expired: start again.',
  413: 'The body is too large.',
  415: 'Unsupported media type.',
  422: 'The identity service refused the request.',
  423: 'The account is locked for a while.',
  429: 'Too many attempts: wait for `Retry-After` seconds.',
  500: 'The gateway failed.',
  502: 'A dependency answered something unusable.',
  503: 'A dependency is unavailable: try again later.',
};

const writes = (op: Operation) => op.method !== 'get';

/** The statuses Kratos refuses with, passed on with its own message. */
const KRATOS_REFUSALS: ErrorCodes = Object.fromEntries(
  [400, 401, 403, 404, 409, 410, 422].map((status) => [status, ['identity_service_refused']]),
);

/** Operations that answer with the session: it may still owe a second factor, or its enrolment. */
const answersSession = (op: Operation) =>
  op.success.schema === sessionResponse || op.success.schema === recoveryCompleted;

/** Every code an operation can answer, status by status. */
function errorCodesOf(op: Operation): ErrorCodes {
  return mergeErrors(
    ACCESS_ERRORS[op.access],
    answersSession(op) ? { 403: ['aal2_required', 'mfa_enrollment_required'] } : {},
    writes(op) ? WRITE_ERRORS : {},
    op.rateLimited ? { 429: ['rate_limited'] } : {},
    op.kratos ? KRATOS_REFUSALS : {},
    op.errors ?? {},
    SERVER_ERRORS,
  );
}

const codeBodies = new Map<string, ReturnType<typeof errorBody>>();
const pascal = (code: string) => code.replace(/(^|_)([a-z])/g, (_m, _s, c: string) => c.toUpperCase());

/** One component per error code (`UnauthenticatedError`, …): a route's answers are unions of them. */
function codeBody(code: string) {
  let body = codeBodies.get(code);
  if (!body) codeBodies.set(code, (body = errorBody([code], `${pascal(code)}Error`)));
  return body;
}

/** The 5xx answers are the same for every route: one shared union each. */
const serverErrorBodies = new Map(
  Object.entries(SERVER_ERRORS).flatMap(([status, codes]) =>
    codes
      ? [
          [
            Number(status),
            { codes, schema: z.union(codes.map(codeBody)).meta({ id: `ServerError${status}` }) },
          ] as const,
        ]
      : [],
  ),
);

function errorSchema(status: number, codes: readonly string[]) {
  const shared = serverErrorBodies.get(status);
  if (shared && codes.length === shared.codes.length) return shared.schema;
  const [only, ...others] = codes;
  return only !== undefined && others.length === 0 ? codeBody(only) : z.union(codes.map(codeBody));
}

function security(op: Operation): Record<string, string[]>[] {
  const csrf: Record<string, string[]> = writes(op) ? { csrfHeader: [] } : {};
  if (op.access === 'public') return writes(op) ? [csrf] : [];
  return [
    { sessionCookie: [], ...csrf },
    { kratosSessionCookie: [], ...csrf },
  ];
}

function operationObject(op: Operation): ZodOpenApiOperationObject {
  const responses: Record<string, ZodOpenApiResponseObject> = {};
  const { success } = op;
  responses[String(success.status)] = {
    description: success.description,
    ...(success.headers && {
      headers: Object.fromEntries(
        Object.entries(success.headers).map(([name, description]) => [
          name,
          { description, schema: { type: 'string' } },
        ]),
      ),
    }),
    ...(success.schema && { content: { 'application/json': { schema: success.schema } } }),
    ...(success.binary && {
      content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
    }),
  };
  for (const [status, codes] of Object.entries(errorCodesOf(op))) {
    if (!codes?.length) continue;
    responses[status] = {
      description: `${STATUS_TEXT[Number(status)] ?? 'Error.'} Codes: ${codes.map((c) => `\`${c}\``).join(', ')}.`,
      ...(status === '429' && {
        headers: { 'Retry-After': { description: 'Seconds to wait.', schema: { type: 'integer' } } },
      }),
      content: { 'application/json': { schema: errorSchema(Number(status), codes) } },
    };
  }
  return {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    ...(op.description && { description: op.description }),
    security: security(op),
    ...((op.params || op.query) && {
      requestParams: { ...(op.params && { path: op.params }), ...(op.query && { query: op.query }) },
    }),
    ...(op.body && { requestBody: { required: true, content: { 'application/json': { schema: op.body } } } }),
    ...(op.rawBody && {
      requestBody: {
        required: true,
        description: 'The file’s bytes, with their own Content-Type.',
        content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
      },
    }),
    responses,
  };
}

/** The OpenAPI 3.1 document of the gateway's HTTP API, generated from its zod schemas. */
export function createOpenApiDocument() {
  const paths: ZodOpenApiPathsObject = {};
  for (const op of operations) {
    (paths[op.path] ??= {})[op.method] = operationObject(op);
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Auth Gateway API',
      version: '1.0.0',
      description:
        'The backend-for-frontend in front of Ory Kratos: sessions, sign-in (password, passkeys, second factors), ' +
        'account settings, Honey Jars of encrypted files and administration. JSON in and out; every error is ' +
        '`{ "error": { "code", "message", "details?" } }`. Every state-changing request carries `X-CSRF: 1` ' +
        'and, when it has an `Origin`, an allowed one.',
    },
    servers: [{ url: '/', description: 'The gateway’s own origin (cookies are first-party).' }],
    tags: [
      { name: 'session', description: 'The signed-in principal and its sessions.' },
      { name: 'sign-in', description: 'Sign-up, sign-in and step-up.' },
      { name: 'passkeys', description: 'Passkey management.' },
      { name: 'account', description: 'Recovery, verification, profile, password and second factors.' },
      { name: 'jars', description: 'Honey Jars of encrypted files.' },
      { name: 'admin', description: 'Administration: admin role, aal2 and a recent sign-in.' },
      { name: 'meta', description: 'This document.' },
    ],
    components: {
      securitySchemes: {
        sessionCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: 'gw_session',
          description: 'The gateway’s session cookie (HttpOnly, SameSite=Lax; Secure under https).',
        },
        kratosSessionCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: 'ory_kratos_session',
          description: 'A Kratos session cookie from a flow finished at Kratos itself.',
        },
        csrfHeader: {
          type: 'apiKey',
          in: 'header',
          name: 'X-CSRF',
          description: 'Must be `1` on every state-changing request: it forces a CORS preflight.',
        },
      },
    },
    paths,
  });
}

let cached: string | undefined;

/** GET /api/openapi.json: public and cacheable, built once per process. */
export function openApiRoute(): RequestHandler {
  return (_req, res) => {
    cached ??= JSON.stringify(createOpenApiDocument());
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type('application/json').send(cached);
  };
}
