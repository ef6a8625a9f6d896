import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

type Json = Record<string, unknown>;

/** What the API document says about one operation's request. */
export interface RequestOperation {
  operationId: string;
  method: string;
  template: string;
  bodyRequired: boolean;
  /** The resolved request body schema, when the operation takes one. */
  bodySchema?: Json;
}

/** Checks requests (not responses) against an OpenAPI 3.0 document. */
export interface OpenApiRequestValidator {
  findOperation(method: string, path: string): RequestOperation | undefined;
  /** The problems of a request body, empty when it is valid for the operation. */
  validateBody(method: string, path: string, body: unknown): string[];
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const METHODS = ['get', 'post', 'put', 'delete', 'patch'];

/**
 * Builds a request validator over an OpenAPI 3.0 document. Vault documents durations as
 * `format: duration` strings such as "1h" or "3600", not ISO 8601, so that format is
 * defined the Vault way.
 */
export function createOpenApiRequestValidator(specPath: string): OpenApiRequestValidator {
  const spec = JSON.parse(readFileSync(specPath, 'utf8')) as Json;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addFormat('duration', /^\d+[smh]?$/);
  const schemas = ((spec.components as Json | undefined)?.schemas ?? {}) as Record<string, Json>;
  const operations = collect(spec, schemas);
  const validators = new Map<string, ValidateFunction>();

  const findOperation = (method: string, path: string) => {
    const wanted = method.toLowerCase();
    return operations.find((op) => op.method === wanted && pattern(op.template).test(path));
  };

  return {
    findOperation,
    validateBody(method, path, body) {
      const operation = findOperation(method, path);
      if (!operation) return [`no operation for ${method} ${path}`];
      if (body === undefined) return operation.bodyRequired ? ['the request body is required'] : [];
      if (!operation.bodySchema) return ['a body was sent where the document declares none'];
      let validate = validators.get(operation.operationId);
      if (!validate) {
        validate = ajv.compile(operation.bodySchema);
        validators.set(operation.operationId, validate);
      }
      if (validate(body)) return [];
      return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
    },
  };
}

function collect(spec: Json, schemas: Record<string, Json>): RequestOperation[] {
  const operations: RequestOperation[] = [];
  for (const [template, item] of Object.entries((spec.paths ?? {}) as Record<string, Json>)) {
    for (const method of METHODS) {
      const operation = item[method] as Json | undefined;
      if (!operation) continue;
      const requestBody = operation.requestBody as Json | undefined;
      const content = (requestBody?.content ?? {}) as Record<string, { schema?: Json }>;
      const schema = content['application/json']?.schema;
      operations.push({
        operationId: String(operation.operationId),
        method,
        template,
        bodyRequired: requestBody?.required === true,
        bodySchema: schema ? resolve(schema, schemas) : undefined,
      });
    }
  }
  const literals = (t: string) => t.split('/').filter((s) => s && !s.startsWith('{')).length;
  return operations.sort((a, b) => literals(b.template) - literals(a.template));
}

function resolve(schema: Json, schemas: Record<string, Json>): Json {
  const ref = schema.$ref;
  if (typeof ref !== 'string') return schema;
  return schemas[ref.split('/').pop() ?? ''] ?? {};
}

function pattern(template: string): RegExp {
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}
