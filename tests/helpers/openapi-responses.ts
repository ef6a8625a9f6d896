import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

/**
 * Holds every answer a component test receives to the gateway's OpenAPI document
 * (openapi/openapi.json, which a unit test holds to the code's zod schemas): the status must
 * be one the operation declares, and a JSON body must match that response's schema. A path
 * under /api that no operation serves must answer with the error body.
 */

type Json = Record<string, any>;

interface Operation {
  method: string;
  template: string;
  pattern: RegExp;
  literals: number;
  responses: Json;
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const DOCUMENT_ID = 'openapi.json';

const pointer = (...parts: string[]) =>
  `${DOCUMENT_ID}#/${parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;

class ResponseValidator {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly operations: Operation[] = [];
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly anyError: ValidateFunction;

  constructor(document: Json) {
    addFormats(this.ajv);
    this.ajv.addSchema(document, DOCUMENT_ID);
    for (const [template, ops] of Object.entries(document.paths as Record<string, Json>)) {
      const segments = template.split('/');
      const pattern = new RegExp(
        `^${segments.map((s) => (s.startsWith('{') ? '[^/]+' : s.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))).join('/')}$`,
      );
      for (const [method, op] of Object.entries(ops)) {
        this.operations.push({
          method,
          template,
          pattern,
          literals: segments.filter((s) => !s.startsWith('{')).length,
          responses: op.responses,
        });
      }
    }
    this.operations.sort((a, b) => b.literals - a.literals);
    this.anyError = this.ajv.compile({
      type: 'object',
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['code', 'message'],
          properties: { code: { type: 'string', pattern: '^[a-z0-9_]+$' }, message: { type: 'string' } },
        },
      },
    });
  }

  private schema(template: string, method: string, status: string): ValidateFunction {
    const ref = pointer(
      'paths',
      template,
      method,
      'responses',
      status,
      'content',
      'application/json',
      'schema',
    );
    let validate = this.compiled.get(ref);
    if (!validate) {
      validate = this.ajv.getSchema(ref);
      if (!validate) throw new Error(`cannot compile ${ref}`);
      this.compiled.set(ref, validate);
    }
    return validate;
  }

  /** The problems of one answer; empty when it agrees with the document. */
  problems(method: string, path: string, status: number, text: string, contentType: string | null): string[] {
    const lower = method.toLowerCase();
    const parse = () => {
      try {
        return { ok: true, value: JSON.parse(text) as unknown };
      } catch {
        return { ok: false, value: undefined };
      }
    };
    const op = this.operations.find((o) => o.method === lower && o.pattern.test(path));
    if (!op) {
      const body = parse();
      if (status < 400) return [`no operation in the document serves ${method} ${path}`];
      if (!body.ok || !this.anyError(body.value))
        return [`${status} without the error body: ${text.slice(0, 200)}`];
      return [];
    }
    const declared = op.responses[String(status)];
    if (!declared)
      return [`${method} ${op.template} does not declare status ${status}: ${text.slice(0, 300)}`];
    const content = declared.content as Json | undefined;
    if (!content)
      return text === '' ? [] : [`${status} is declared without a body, got ${text.slice(0, 200)}`];
    if (!content['application/json']) return [];
    if (!/^application\/json/.test(contentType ?? ''))
      return [`${status} is declared as JSON, got Content-Type ${contentType}`];
    const body = parse();
    if (!body.ok) return [`${status} is not JSON: ${text.slice(0, 200)}`];
    const validate = this.schema(op.template, lower, String(status));
    if (validate(body.value)) return [];
    return (validate.errors ?? []).map(
      (e) => `${e.instancePath || '(body)'} ${e.message} ${JSON.stringify(e.params)}`,
    );
  }
}

let validator: ResponseValidator | undefined;

/** Throws when an answer disagrees with the OpenAPI document (answers outside /api are not checked). */
export function assertAnswerMatchesDocument(
  method: string,
  url: string,
  status: number,
  text: string,
  contentType: string | null,
): void {
  const path = new URL(url).pathname;
  if (!path.startsWith('/api/') || method === 'HEAD' || method === 'OPTIONS') return;
  validator ??= new ResponseValidator(
    JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')) as Json,
  );
  const problems = validator.problems(method, path, status, text, contentType);
  if (problems.length > 0)
    throw new Error(
      `The answer to ${method} ${path} (${status}) disagrees with openapi/openapi.json:\n  ${problems.join('\n  ')}\n` +
        `body: ${text.slice(0, 500)}`,
    );
}
