/**
 * A node:test reporter that writes how long each test file took, as JSON
 * (`{ "tests/component/jars.test.ts": 12.3, ... }`, seconds): the runner's own measure of the
 * file's process, from its start to its end. The test runner prints the slowest files and
 * starts the slowest first next time. Plain JavaScript: node loads reporters before the
 * TypeScript loader.
 */
import { relative } from 'node:path';

/** @param {AsyncIterable<{ type: string, data?: { file?: string, name?: string, details?: { duration_ms?: number } } }>} source */
export default async function* durations(source) {
  /** @type {Record<string, number>} */
  const seconds = {};
  for await (const { type, data } of source) {
    // The file itself completes as a test named by its path.
    if (type !== 'test:complete' || !data?.file || data.name !== data.file) continue;
    seconds[relative(process.cwd(), data.file)] = Math.round(data.details?.duration_ms ?? 0) / 1000;
  }
  yield `${JSON.stringify(seconds, null, 2)}\n`;
}
