/**
 * The baseline of the session-check benchmark: a bare Express 5 app in its own process
 * answering the same bytes as the gateway (BENCH_SESSION_BODY for GET /session, the
 * forward-auth headers of BENCH_VERIFY_HEADERS for GET /verify), with nothing in between.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { answerProbes } from './child-probes.js';

const sessionBody = JSON.parse(process.env.BENCH_SESSION_BODY ?? '{}') as unknown;
const verifyHeaders = JSON.parse(process.env.BENCH_VERIFY_HEADERS ?? '{}') as Record<string, string>;

const app = express();
// As the gateway does: no ETag hashing of every answer.
app.set('etag', false);
app.get('/session', (_req, res) => {
  res.json(sessionBody);
});
app.get('/verify', (_req, res) => {
  for (const [name, value] of Object.entries(verifyHeaders)) res.setHeader(name, value);
  res.status(200).end();
});
const server = app.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('disconnect', stop);
answerProbes();
