import { randomUUID } from 'node:crypto';
import type { Request, Response, Router } from 'express';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { z } from 'zod';
import { principalOf, type Guard } from '../access/require-auth.js';
import { checkPrivileged } from '../access/privileged.js';
import type { FactorDeps } from '../factors/second-factors.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { AuditEventType } from '../audit/event-types.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { BodyStore } from '../files/body-store.js';
import { AppError } from '../errors/app-error.js';
import type { Logger } from '../logging/logger.js';
import type { KeyService } from '../keys/key-service.js';
import type { KratosClient } from '../kratos/client.js';
import { openFileForReading } from './download-file.js';
import { authorizeJar, checkJarPolicy } from './jar-access.js';
import { jarStore, type JarFile } from './jar-store.js';
import {
  contentType,
  createJarBody,
  fileParams,
  grantBody,
  granteeId,
  grantParams,
  jarIdParams,
  updateJarBody,
  uploadQuery,
} from './schemas.js';
import { uploadFile } from './upload-file.js';

interface JarDeps {
  config: Pick<Config, 'MAX_UPLOAD_BYTES' | 'PRIVILEGED_MAX_AGE_SECONDS'>;
  db: Database;
  kratos: Pick<KratosClient, 'getIdentity'>;
  passkeys: FactorDeps['passkeys'];
  emailFactors: FactorDeps['emailFactors'];
  keys: KeyService;
  bodies: BodyStore;
  audit: AuditLog;
  logger: Logger;
  guard: Guard;
}

/** Upload bodies are raw bytes streamed to disk: the JSON body parser must leave them alone. */
export function isJarUpload(req: Request): boolean {
  return req.method === 'POST' && /^\/jars\/[^/]+\/files\/?$/.test(req.path);
}

function parse<T extends z.ZodType>(schema: T, value: unknown, notFound = false): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  // A malformed id names no jar the caller could see.
  if (notFound) throw new AppError('not_found', 404, 'Jar not found.');
  throw new AppError('invalid_request', 400, 'The request is not valid.', {
    details: { issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
  });
}

const fileBody = (file: JarFile) => ({
  id: file.id,
  jarId: file.jarId,
  name: file.name,
  contentType: file.contentType,
  size: file.plainSize,
  keyVersion: file.keyVersion,
  uploadedBy: file.uploadedBy,
  createdAt: file.createdAt,
});

/** RFC 6266 attachment header with an ASCII fallback and the UTF-8 name. */
function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** The caller of a request, with the guard that answers for the policy file. */
const asking = (deps: Pick<JarDeps, 'guard'>, req: Request) => ({ guard: deps.guard, caller: req });

/** Registers `/jars` routes on a router mounted at `/api`. */
export function registerJarRoutes(router: Router, deps: JarDeps): void {
  const signedIn = deps.guard.require();
  const me = principalOf;
  const audit = (req: Request, type: AuditEventType, details: Record<string, unknown>) =>
    deps.audit.record({
      type,
      outcome: 'success',
      identityId: me(req).identityId,
      actorId: me(req).identityId,
      ip: req.ip,
      requestId: req.requestId,
      details,
    });

  router.post('/jars', signedIn, async (req, res) => {
    await checkJarPolicy(asking(deps, req), 'jars:create');
    const body = parse(createJarBody, req.body);
    const jar = await jarStore.insertJar(deps.db, {
      id: randomUUID(),
      ownerId: me(req).identityId,
      name: body.name,
      restricted: body.restricted ?? false,
    });
    await audit(req, 'jar.created', { jarId: jar.id, restricted: jar.restricted });
    res.status(201).json({ ...jar, role: 'owner' });
  });

  router.get('/jars', signedIn, async (req, res) => {
    await checkJarPolicy(asking(deps, req), 'jars:read');
    res.json({ jars: await jarStore.listJarsFor(deps.db, me(req).identityId) });
  });

  router.get('/jars/:id', signedIn, async (req, res) => {
    const { id } = parse(jarIdParams, req.params, true);
    const { jar, role } = await authorizeJar(deps.db, asking(deps, req), me(req), id, 'jars:read');
    res.json({ ...jar, role });
  });

  router.patch('/jars/:id', signedIn, async (req, res) => {
    const { id } = parse(jarIdParams, req.params, true);
    const changes = parse(updateJarBody, req.body);
    await authorizeJar(deps.db, asking(deps, req), me(req), id, 'jars:update');
    // Lifting (or setting) the restriction decides who may read the files: a privileged act.
    if (changes.restricted !== undefined) await checkPrivileged(deps, req);
    const jar = await jarStore.updateJar(deps.db, id, changes);
    await audit(req, 'jar.updated', { jarId: id, ...changes });
    res.json({ ...jar, role: 'owner' });
  });

  router.delete('/jars/:id', signedIn, async (req, res) => {
    const { id } = parse(jarIdParams, req.params, true);
    await authorizeJar(deps.db, asking(deps, req), me(req), id, 'jars:delete');
    const fileIds = await deps.db.transaction(async (tx) => {
      const ids = await jarStore.listFileIds(tx, id);
      await jarStore.deleteJar(tx, id);
      return ids;
    });
    // Bodies go after the rows: a crash in between leaves unreadable ciphertext, never a row without a body.
    await Promise.all(fileIds.map((fileId) => deps.bodies.remove(fileId)));
    await audit(req, 'jar.deleted', { jarId: id, files: fileIds.length });
    res.status(204).end();
  });

  registerGrantRoutes(router, deps, signedIn, audit);
  registerFileRoutes(router, deps, signedIn, audit);
}

type Audit = (req: Request, type: AuditEventType, details: Record<string, unknown>) => Promise<void>;
type RouteGuard = ReturnType<Guard['require']>;

function registerGrantRoutes(router: Router, deps: JarDeps, signedIn: RouteGuard, audit: Audit): void {
  const me = principalOf;

  router.get('/jars/:id/grants', signedIn, async (req, res) => {
    const { id } = parse(jarIdParams, req.params, true);
    await authorizeJar(deps.db, asking(deps, req), me(req), id, 'jars:share');
    res.json({ grants: await jarStore.listGrants(deps.db, id) });
  });

  router.put('/jars/:id/grants/:identityId', signedIn, async (req, res) => {
    const { id, identityId } = parse(grantParams, req.params, true);
    const { role } = parse(grantBody, req.body);
    const { jar } = await authorizeJar(deps.db, asking(deps, req), me(req), id, 'jars:share');
    await checkPrivileged(deps, req);
    if (identityId === jar.ownerId)
      throw new AppError('invalid_request', 400, 'The owner already has every right.');
    // A grant names a person: an id that is no identity (mistyped or made up) changes nothing.
    if (!granteeId.safeParse(identityId).success)
      throw new AppError('invalid_request', 400, 'identityId must be the id of an identity.', {
        details: { field: 'identityId' },
      });
    if (!(await deps.kratos.getIdentity(identityId)))
      throw new AppError('identity_not_found', 404, 'No identity has this id.');
    await jarStore.putGrant(deps.db, { jarId: id, identityId, role, grantedBy: me(req).identityId });
    await audit(req, 'jar.grant_set', { jarId: id, grantee: identityId, role });
    res.json({ identityId, role });
  });

  router.delete('/jars/:id/grants/:identityId', signedIn, async (req, res) => {
    const { id, identityId } = parse(grantParams, req.params, true);
    await authorizeJar(deps.db, asking(deps, req), me(req), id, 'jars:share');
    await checkPrivileged(deps, req);
    if (!(await jarStore.deleteGrant(deps.db, id, identityId)))
      throw new AppError('not_found', 404, 'Grant not found.');
    await audit(req, 'jar.grant_removed', { jarId: id, grantee: identityId });
    res.status(204).end();
  });
}

function registerFileRoutes(router: Router, deps: JarDeps, signedIn: RouteGuard, audit: Audit): void {
  const me = principalOf;

  router.post('/jars/:id/files', signedIn, async (req, res) => {
    // An answer sent before the whole body was read (413, 404, 503) leaves bytes on the
    // connection, so it must not be reused for another request.
    res.setHeader('Connection', 'close');
    const { id } = parse(jarIdParams, req.params, true);
    const { name } = parse(uploadQuery, req.query);
    const type = parse(contentType, req.get('content-type') ?? 'application/octet-stream');
    const declared = Number(req.get('content-length') ?? 0);
    if (declared > deps.config.MAX_UPLOAD_BYTES) {
      throw new AppError(
        'payload_too_large',
        413,
        `The file is larger than ${deps.config.MAX_UPLOAD_BYTES} bytes.`,
      );
    }
    const { jar } = await authorizeJar(deps.db, asking(deps, req), me(req), id, 'jars:files:write');
    const file = await uploadFile(deps, {
      jar,
      uploadedBy: me(req).identityId,
      name,
      contentType: type,
      body: req,
      maxBytes: deps.config.MAX_UPLOAD_BYTES,
    });
    await audit(req, 'jar.file_uploaded', { jarId: id, fileId: file.id, size: file.plainSize });
    res.status(201).json(fileBody(file));
  });

  router.get('/jars/:id/files', signedIn, async (req, res) => {
    const { id } = parse(jarIdParams, req.params, true);
    await authorizeJar(deps.db, asking(deps, req), me(req), id, 'jars:files:read');
    res.json({ files: (await jarStore.listFiles(deps.db, id)).map(fileBody) });
  });

  router.get('/jars/:id/files/:fileId', signedIn, async (req, res) => {
    const { id, fileId } = parse(fileParams, req.params, true);
    await authorizeJar(deps.db, asking(deps, req), me(req), id, 'jars:files:read');
    const file = await jarStore.findFile(deps.db, id, fileId);
    if (!file) throw new AppError('not_found', 404, 'File not found.');
    const plaintext = await openFileForReading(deps, file);
    await sendFile(res, file, plaintext, deps.logger);
  });

  router.delete('/jars/:id/files/:fileId', signedIn, async (req, res) => {
    const { id, fileId } = parse(fileParams, req.params, true);
    await authorizeJar(deps.db, asking(deps, req), me(req), id, 'jars:files:write');
    if (!(await jarStore.deleteFile(deps.db, id, fileId)))
      throw new AppError('not_found', 404, 'File not found.');
    await deps.bodies.remove(fileId);
    await audit(req, 'jar.file_deleted', { jarId: id, fileId });
    res.status(204).end();
  });
}

/** Yields an already-read first item, then the rest of the iterator. */
async function* prepend<T>(first: IteratorResult<T>, rest: AsyncIterator<T>): AsyncGenerator<T> {
  if (first.done) return;
  yield first.value;
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}

/**
 * Streams the plaintext. The first chunk is verified before the status line goes out, so a
 * corrupt file is an ordinary error response; a failure later cuts the connection, and the
 * client cannot take a partial file for a whole one.
 */
async function sendFile(res: Response, file: JarFile, plaintext: Readable, logger: Logger): Promise<void> {
  const chunks = plaintext[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await chunks.next();
  res.setHeader('Content-Type', file.contentType);
  res.setHeader('Content-Length', String(file.plainSize));
  res.setHeader('Content-Disposition', contentDisposition(file.name));
  res.setHeader('Cache-Control', 'private, no-store');
  try {
    await pipeline(prepend(first, chunks), res);
  } catch (error) {
    logger.error('file download aborted', { fileId: file.id, code: (error as AppError).code });
    res.destroy();
  }
}
