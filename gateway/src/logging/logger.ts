import winston from 'winston';

/** Names that are secrets wherever they occur in a field name (`password`, `sessionToken`, `set-cookie`, `apitoken`). */
const SECRET_PARTS = /pass(word|phrase|wd)|secret|token|cookie|authorization|credential|csrf/;
/** Words that make a field secret anywhere in its name (`totpUri`). */
const SECRET_WORDS = new Set(['otp', 'totp', 'pin']);
/** Words that make a field secret as its last word: `apiKey`, `master_key`, `recoveryCode`, `backup_codes`. */
const SECRET_LAST_WORDS = new Set(['key', 'keys', 'code', 'codes']);
/** Keys written as one lower-case word. */
const SECRET_NAMES = new Set(['apikey', 'privatekey', 'accesskey']);
/** Codes that are no secret: what went wrong, an HTTP status, an exit status. */
const PUBLIC_CODES = new Set([
  'errorcode',
  'error_code',
  'statuscode',
  'status_code',
  'exitcode',
  'exit_code',
]);

/** The words of a field name: camelCase, snake_case, kebab-case and dotted names alike. */
const wordsOf = (name: string) =>
  name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);

function judgeName(name: string): boolean {
  const lower = name.toLowerCase();
  if (PUBLIC_CODES.has(lower)) return false;
  if (SECRET_PARTS.test(lower) || SECRET_NAMES.has(lower)) return true;
  const words = wordsOf(name);
  return words.some((word) => SECRET_WORDS.has(word)) || SECRET_LAST_WORDS.has(words.at(-1) ?? '');
}

/** Field names seen, judged once: a log line is written per request, from the same few names. */
const judged = new Map<string, boolean>();

/** Whether the value of a field with this name is a secret (a password, a token, a key, a one-time code...). */
export function isSecretName(name: string): boolean {
  let secret = judged.get(name);
  if (secret === undefined) {
    secret = judgeName(name);
    // Logged objects from elsewhere may bring endless names; remember only a bounded few.
    if (judged.size < 1000) judged.set(name, secret);
  }
  return secret;
}

/** Replaces the value of every secret-named field, at any depth, before a line is written. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) return { name: value.name, message: value.message };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretName(k) ? '[redacted]' : redact(v, depth + 1);
  }
  return out;
}

/**
 * Redaction of a log line. At the top of a line, `code` is the error code (`invalid_code`,
 * `keys_unavailable`): our own log calls reserve the name for it, so it stays readable.
 * Inside a logged object, `code` may be a one-time code and is redacted like every
 * secret-named field.
 */
const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'message' || key === 'code') continue;
    info[key] = isSecretName(key) ? '[redacted]' : redact(info[key]);
  }
  return info;
});

/** The one line every answered request gets. */
interface RequestLine {
  requestId: string;
  method: string;
  path: string;
  status: number;
  durationMs: number;
  aborted?: true;
}

export type Logger = winston.Logger & {
  /**
   * Writes a request line at info, shaped as every other line (keys in order, a timestamp)
   * but without winston's per-entry pipeline: it is written for every request, so lines are
   * built directly (their fields are fixed, none secret) and written together once per turn
   * of the event loop.
   */
  request(line: RequestLine): void;
};

/** Request lines written by one `write` per turn of the event loop (or sooner, past this size). */
const REQUEST_LINES_FLUSH_BYTES = 64 * 1024;

function requestLineWriter(logger: winston.Logger, out: NodeJS.WritableStream) {
  let pending = '';
  const flush = () => {
    if (pending === '') return;
    const chunk = pending;
    pending = '';
    out.write(chunk);
  };
  return (line: RequestLine) => {
    if (logger.silent || !logger.isLevelEnabled('info')) return;
    // Keys in the order winston's JSON format writes them (sorted), so every line reads alike.
    const entry = {
      ...(line.aborted ? { aborted: true } : {}),
      durationMs: line.durationMs,
      level: 'info',
      message: 'request',
      method: line.method,
      path: line.path,
      requestId: line.requestId,
      status: line.status,
      timestamp: new Date().toISOString(),
    };
    if (pending === '') setImmediate(flush);
    pending += `${JSON.stringify(entry)}\n`;
    if (pending.length > REQUEST_LINES_FLUSH_BYTES) flush();
  };
}

/**
 * JSON lines on stdout, or on `stream` when one is given; `silent` for tests that do not want
 * the noise.
 */
export function createLogger(options: {
  level: string;
  silent?: boolean;
  stream?: NodeJS.WritableStream;
}): Logger {
  const logger = winston.createLogger({
    level: options.level,
    silent: options.silent ?? false,
    format: winston.format.combine(redactFormat(), winston.format.timestamp(), winston.format.json()),
    transports: [
      options.stream
        ? new winston.transports.Stream({ stream: options.stream })
        : new winston.transports.Console(),
    ],
  }) as Logger;
  logger.request = requestLineWriter(logger, options.stream ?? process.stdout);
  return logger;
}
