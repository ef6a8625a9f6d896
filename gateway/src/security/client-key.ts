import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import { normalizeIdentifier } from '../identity/identifier.js';

/**
 * The rate-limit key of the calling client. `req.ip` is already the right address: the
 * app sets Express' `trust proxy` to TRUST_PROXY_HOPS, so only that many X-Forwarded-For
 * entries (the ones our own proxies appended) are believed and anything a client wrote
 * further left is ignored. IPv6 clients are grouped by subnet, because one host usually
 * holds a whole /64 (or more) and could otherwise rotate addresses to escape the limit.
 */
export function clientIpKey(req: Request, ipv6Subnet: number): string {
  return ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown', ipv6Subnet);
}

/**
 * The rate-limit key of an identifier (an e-mail address or an identity id): hashed, so
 * Redis never holds the address itself, and normalised like Kratos normalises it.
 */
export function identifierKey(identifier: string): string {
  return createHash('sha256').update(normalizeIdentifier(identifier)).digest('base64url');
}
