import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * With `-h` or `--help` among the arguments: prints the leading doc comment of the script at
 * `moduleUrl` (its manual) and exits 0, before the script does anything else.
 */
export function helpIfAsked(moduleUrl: string, args: string[] = process.argv.slice(2)): void {
  if (!args.some((arg) => arg === '-h' || arg === '--help')) return;
  const source = readFileSync(fileURLToPath(moduleUrl), 'utf8');
  const header = /^\/\*\*([\s\S]*?)\*\//.exec(source)?.[1] ?? '';
  const manual = header
    .split('\n')
    .map((line) => line.replace(/^\s*\* ?/, ''))
    .join('\n')
    .trim();
  console.log(manual);
  process.exit(0);
}
