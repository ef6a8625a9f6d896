import type { FieldType } from './routes.js';
import { VaultHttpError } from './transit.js';

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** Vault durations: integer seconds, or a string such as "90", "90s", "15m", "1h". */
function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value !== 'string') return undefined;
  const match = /^(\d+)([smh]?)$/.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * (DURATION_UNITS[match[2] || 's'] ?? 1);
}

function convert(value: unknown, type: FieldType): unknown {
  switch (type) {
    case 'string':
      return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
    case 'integer':
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      return typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : undefined;
    case 'boolean':
      if (typeof value === 'boolean') return value;
      return value === 'true' ? true : value === 'false' ? false : undefined;
    case 'array':
      return Array.isArray(value) ? value : undefined;
    case 'duration':
      return parseDuration(value);
  }
}

/**
 * Decodes the known fields of a request body the way Vault's framework does (weakly
 * typed: "256" is an integer, "true" a boolean) and rejects values that cannot be
 * converted with Vault's "Field validation failed" message. Unknown fields pass through.
 */
export function decodeFields(
  body: Record<string, unknown>,
  fields: Record<string, FieldType>,
): Record<string, unknown> {
  const decoded: Record<string, unknown> = { ...body };
  for (const [name, type] of Object.entries(fields)) {
    if (body[name] === undefined || body[name] === null) continue;
    const value = convert(body[name], type);
    if (value === undefined) {
      throw new VaultHttpError(
        400,
        `Field validation failed: error converting input ${JSON.stringify(body[name])} for field "${name}"`,
      );
    }
    decoded[name] = value;
  }
  return decoded;
}
