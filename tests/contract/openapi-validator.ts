import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

/** A problem found in one response, readable in a test failure. */
export interface ResponseValidation {
  valid: boolean;
  operationId?: string;
  errors: string[];
}

/** Validates responses of a service against the OpenAPI 3.0 document that describes it. */
export interface OpenApiValidator {
  /**
   * Checks that `status` is declared by the operation matching `method` + `path` (a concrete path,
   * query string allowed) — or covered by `default` — and that `body` validates against that
   * response's JSON schema. A response declared without content must have no body
   * (`undefined`, `null` or an empty string).
   */
  validateResponse(method: string, path: string, status: number, body: unknown): ResponseValidation;
  /** Same as validateResponse, but throws an Error listing every problem. */
  assertResponse(method: string, path: string, status: number, body: unknown): void;
  /** The operationId serving a request, or undefined when the document has none. */
  findOperation(method: string, path: string): string | undefined;
}

type Json = Record<string, unknown>;

interface Operation {
  operationId: string;
  pattern: RegExp;
  method: string;
  literalSegments: number;
  responses: Record<string, Json>;
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/**
 * Builds a validator over an OpenAPI 3.0 document (JSON). The document's `components.schemas` are
 * compiled with ajv once; OpenAPI-only keywords are translated to JSON Schema first: `nullable`
 * becomes a `null` type, and a `discriminator` with a `mapping` selects the mapped schema by the
 * property's value (ajv supports discriminators only without mappings).
 */
export function createOpenApiValidator(specPath: string): OpenApiValidator {
  const spec = JSON.parse(readFileSync(specPath, 'utf8')) as Json;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addFormat('uuid4', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
  const components = (spec.components ?? {}) as Json;
  ajv.addSchema({ $id: 'openapi', components: toJsonSchema(components) });
  const operations = collectOperations(spec);
  const compiled = new Map<string, ValidateFunction>();

  const responseSchema = (schema: Json): ValidateFunction => {
    const key = JSON.stringify(schema);
    let validate = compiled.get(key);
    if (!validate) {
      validate = ajv.compile({ $id: `response-${compiled.size}`, ...(toJsonSchema(schema) as Json) });
      compiled.set(key, validate);
    }
    return validate;
  };

  const validateResponse = (
    method: string,
    path: string,
    status: number,
    body: unknown,
  ): ResponseValidation => {
    const operation = matchOperation(operations, method, path);
    if (!operation) return { valid: false, errors: [`no operation for ${method.toUpperCase()} ${path}`] };
    const declared = operation.responses[String(status)] ?? operation.responses.default;
    if (!declared) {
      return {
        valid: false,
        operationId: operation.operationId,
        errors: [`${operation.operationId} does not declare status ${status}`],
      };
    }
    const response = resolveResponse(spec, declared);
    const errors = checkBody(response, body, responseSchema);
    return { valid: errors.length === 0, operationId: operation.operationId, errors };
  };

  return {
    validateResponse,
    findOperation: (method, path) => matchOperation(operations, method, path)?.operationId,
    assertResponse(method, path, status, body) {
      const result = validateResponse(method, path, status, body);
      if (!result.valid) {
        throw new Error(
          `${method.toUpperCase()} ${path} -> ${status} violates the API document (${result.operationId ?? '?'}):\n` +
            result.errors.join('\n'),
        );
      }
    },
  };
}

function checkBody(response: Json, body: unknown, compile: (schema: Json) => ValidateFunction): string[] {
  const content = response.content as Record<string, { schema?: Json }> | undefined;
  const isEmpty = body === undefined || body === null || body === '';
  if (!content) return isEmpty ? [] : ['a body was sent where the document declares none'];
  const media = content['application/json'] ?? Object.values(content)[0];
  if (!media?.schema) return [];
  const validate = compile(media.schema);
  if (validate(body)) return [];
  return (validate.errors ?? []).map(
    (e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
  );
}

function resolveResponse(spec: Json, response: Json): Json {
  const ref = response.$ref;
  if (typeof ref !== 'string') return response;
  const name = ref.split('/').pop() ?? '';
  const responses = ((spec.components as Json | undefined)?.responses ?? {}) as Record<string, Json>;
  return responses[name] ?? {};
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

function collectOperations(spec: Json): Operation[] {
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries((spec.paths ?? {}) as Record<string, Json>)) {
    for (const method of METHODS) {
      const operation = item[method] as Json | undefined;
      if (!operation) continue;
      operations.push({
        operationId: String(operation.operationId ?? `${method} ${template}`),
        method,
        pattern: templatePattern(template),
        literalSegments: template.split('/').filter((s) => s && !s.startsWith('{')).length,
        responses: (operation.responses ?? {}) as Record<string, Json>,
      });
    }
  }
  // Prefer templates with more literal segments, so /sessions/whoami wins over /sessions/{id}.
  return operations.sort((a, b) => b.literalSegments - a.literalSegments);
}

function templatePattern(template: string): RegExp {
  const escaped = template
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${escaped}$`);
}

function matchOperation(operations: Operation[], method: string, path: string): Operation | undefined {
  const pathname = new URL(path, 'http://localhost').pathname;
  const wanted = method.toLowerCase();
  return operations.find((op) => op.method === wanted && op.pattern.test(pathname));
}

/** Rewrites an OpenAPI 3.0 schema (and every nested schema) into plain JSON Schema for ajv. */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!node || typeof node !== 'object') return node;
  const source = node as Json;
  const out: Json = {};
  for (const [key, value] of Object.entries(source)) {
    if (key === '$ref' && typeof value === 'string' && value.startsWith('#/components/')) {
      out.$ref = `openapi${value}`;
    } else if (key !== 'discriminator' && key !== 'nullable') {
      out[key] = toJsonSchema(value);
    }
  }
  if (source.nullable === true && source.type !== undefined) {
    out.type = [...(Array.isArray(source.type) ? source.type : [source.type]), 'null'];
    if (Array.isArray(out.enum)) out.enum = [...(out.enum as unknown[]), null];
  }
  const discriminator = source.discriminator as
    { propertyName: string; mapping?: Record<string, string> } | undefined;
  if (discriminator?.mapping && Array.isArray(source.oneOf)) {
    delete out.oneOf;
    Object.assign(out, discriminatorSchema(discriminator.propertyName, discriminator.mapping));
  }
  return out;
}

function discriminatorSchema(property: string, mapping: Record<string, string>): Json {
  return {
    type: 'object',
    required: [property],
    properties: { [property]: { enum: Object.keys(mapping) } },
    allOf: Object.entries(mapping).map(([value, ref]) => ({
      if: { properties: { [property]: { const: value } } },
      then: { $ref: `openapi${ref}` },
    })),
  };
}
