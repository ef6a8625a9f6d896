/**
 * A node:test reporter that writes how long each test file took, one JSON line per file
 * (`["tests/component/jars.test.ts", 12.3]`, seconds), as each file completes: a file run alone
 * completes as a test named by its path (its whole process), a file run in a group of files
 * (scripts/test.ts) as a top-level suite named by its path. The test runner prints the slowest
 * files and starts the slowest first next time. Plain JavaScript: node loads reporters before
 * the TypeScript loader.
 */
import { relative } from 'node:path';

/** @param {AsyncIterable<{ type: string, data?: { file?: string, name?: string, nesting?: number, details?: { duration_ms?: number } } }>} source */
export default async function* durations(source) {
  for await (const { type, data } of source) {
    if (type !== 'test:complete' || !data?.file || !data.name?.endsWith('.test.ts')) continue;
    const seconds = Math.round(data.details?.duration_ms ?? 0) / 1000;
    if (data.name === data.file) yield `${JSON.stringify([relative(process.cwd(), data.file), seconds])}\n`;
    else if (data.nesting === 0) yield `${JSON.stringify([data.name, seconds])}\n`;
  }
}
