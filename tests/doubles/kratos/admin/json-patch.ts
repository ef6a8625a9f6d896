import { errors } from '../errors.js';

export interface PatchOperation {
  op: string;
  path: string;
  value?: unknown;
  from?: string;
}

type Container = Record<string, unknown> | unknown[];

/** Applies RFC 6902 operations (add, replace, remove, test) to a copy of `document`; 400 on a bad patch. */
export function applyJsonPatch<T>(document: T, operations: unknown, allowed: (path: string) => boolean): T {
  if (!Array.isArray(operations)) throw errors.badRequest('The JSON Patch document must be an array.');
  const copy = structuredClone(document) as unknown as Record<string, unknown>;
  for (const raw of operations as PatchOperation[]) {
    if (!raw || typeof raw.path !== 'string' || typeof raw.op !== 'string') {
      throw errors.badRequest('Every JSON Patch operation needs an op and a path.');
    }
    if (!allowed(raw.path)) throw errors.badRequest(`patch includes denied path: ${raw.path}`);
    applyOne(copy, raw);
  }
  return copy as unknown as T;
}

function applyOne(root: Record<string, unknown>, operation: PatchOperation): void {
  const segments = pointer(operation.path);
  const key = segments.pop();
  if (key === undefined) throw errors.badRequest('The whole document can not be patched.');
  const parent = resolve(root, segments, operation.op === 'add');
  switch (operation.op) {
    case 'add':
    case 'replace':
      if (operation.op === 'replace' && !has(parent, key))
        throw errors.badRequest(`path ${operation.path} does not exist`);
      set(parent, key, operation.value, operation.op === 'add');
      return;
    case 'remove':
      if (!has(parent, key)) throw errors.badRequest(`path ${operation.path} does not exist`);
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
      return;
    default:
      throw errors.badRequest(`unsupported JSON Patch operation: ${operation.op}`);
  }
}

function pointer(path: string): string[] {
  if (!path.startsWith('/')) throw errors.badRequest(`invalid JSON pointer: ${path}`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function resolve(root: Container, segments: string[], create: boolean): Container {
  let current: Container = root;
  for (const segment of segments) {
    let next = get(current, segment);
    if ((next === undefined || next === null) && create && !Array.isArray(current)) {
      next = {};
      current[segment] = next;
    }
    if (!next || typeof next !== 'object') throw errors.badRequest(`path segment ${segment} does not exist`);
    current = next as Container;
  }
  return current;
}

const get = (container: Container, key: string): unknown =>
  Array.isArray(container) ? container[Number(key)] : container[key];

const has = (container: Container, key: string): boolean =>
  Array.isArray(container) ? Number(key) < container.length : key in container;

function set(container: Container, key: string, value: unknown, insert: boolean): void {
  if (!Array.isArray(container)) {
    container[key] = value;
    return;
  }
  const index = key === '-' ? container.length : Number(key);
  if (insert) container.splice(index, 0, value);
  else container[index] = value;
}
