import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../config.js';
import type { Aal } from '../kratos/types.js';

/**
 * RBAC with attribute conditions, in one module. Roles come from the identity
 * (`metadata_public.roles`) plus the roles every signed-in principal has; each role
 * grants permissions (and inherits other roles'); each permission may add conditions on
 * the subject (AAL, verified e-mail) and on the resource (owner, restricted jar).
 */

const aal = z.enum(['aal1', 'aal2']);

const conditionsSchema = z
  .object({
    /** Minimum AAL of the session. */
    aal: aal.optional(),
    /** The subject's e-mail address must be verified. */
    emailVerified: z.boolean().optional(),
    /** The subject must own the resource. */
    owner: z.boolean().optional(),
    /** Minimum AAL when the resource is restricted (a restricted jar's files). */
    restrictedAal: aal.optional(),
  })
  .strict();

const permissionName = z.string().regex(/^[a-z][a-z0-9_-]*(:[a-z0-9_-]+)*$/, 'must look like area:action');
const roleName = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'must be a lower-case name');

const policySchema = z
  .object({
    $comment: z.string().optional(),
    signedInRoles: z.array(roleName).default([]),
    roles: z.record(
      roleName,
      z
        .object({
          description: z.string().optional(),
          inherits: z.array(roleName).default([]),
          permissions: z.array(permissionName),
        })
        .strict(),
    ),
    permissions: z.record(permissionName, conditionsSchema),
    /**
     * Who must enrol a second factor, and by when: every signed-in person (`allUsers`) or
     * the holders of `roles`, `graceDays` after their account was created (or after
     * `since`, when that is later). Roles that grant any `admin:` permission are always
     * included: administrators can never be exempt.
     */
    mandatoryMfa: z
      .object({
        $comment: z.string().optional(),
        allUsers: z.boolean().default(false),
        roles: z.array(roleName).default([]),
        graceDays: z.number().int().min(0).max(365).default(0),
        since: z.iso.datetime({ offset: true }).optional(),
      })
      .strict()
      .default({ allUsers: false, roles: [], graceDays: 0 }),
  })
  .strict();

/** A second factor someone must enrol: when the grace period began and how long it lasts. */
interface MfaRequirement {
  graceDays: number;
  /** The grace period starts at the later of this and the account's creation. */
  since?: Date;
}

type Conditions = z.infer<typeof conditionsSchema>;

/** Who asks: the parts of a principal the policy reads. */
export interface Subject {
  identityId: string;
  roles: string[];
  aal: Aal;
  emailVerified: boolean;
}

/** What is asked about, when there is one resource. */
export interface ResourceAttributes {
  ownerId?: string;
  restricted?: boolean;
}

type Refusal = 'unknown_permission' | 'no_role' | 'aal2_required' | 'email_not_verified' | 'not_owner';
export type Decision = { allowed: true } | { allowed: false; reason: Refusal };

/** A validated policy, ready to answer questions. */
export interface Policy {
  /** Role names the policy defines. */
  readonly roles: string[];
  /** Every permission the roles grant, inherited ones included. */
  permissionsOf(roles: string[]): Set<string>;
  /**
   * Decides whether `subject` may use `permission`. Resource conditions (owner,
   * restricted) are evaluated only when a `resource` is given: without one the answer
   * is "allowed on some resource", which is what a route guard can know.
   */
  authorize(subject: Subject, permission: string, resource?: ResourceAttributes): Decision;
  /** Whether holders of `roles` must enrol a second factor, and their grace period; undefined: they need not. */
  mfaRequirement(roles: string[]): MfaRequirement | undefined;
}

function crossCheck(doc: z.infer<typeof policySchema>): string[] {
  const problems: string[] = [];
  for (const [role, def] of Object.entries(doc.roles)) {
    for (const parent of def.inherits)
      if (!doc.roles[parent]) problems.push(`role ${role} inherits unknown role ${parent}`);
    for (const permission of def.permissions)
      if (!doc.permissions[permission])
        problems.push(`role ${role} grants ${permission}, which is not declared under permissions`);
  }
  for (const role of doc.signedInRoles)
    if (!doc.roles[role]) problems.push(`signedInRoles names unknown role ${role}`);
  for (const role of doc.mandatoryMfa.roles)
    if (!doc.roles[role]) problems.push(`mandatoryMfa names unknown role ${role}`);
  return problems;
}

/** Every permission of `role`, following `inherits` (a cycle is reported, never looped). */
function expandRole(doc: z.infer<typeof policySchema>, role: string, path: string[], problems: string[]) {
  if (path.includes(role)) {
    problems.push(`roles inherit in a cycle: ${[...path, role].join(' -> ')}`);
    return new Set<string>();
  }
  const def = doc.roles[role];
  const out = new Set(def?.permissions ?? []);
  for (const parent of def?.inherits ?? [])
    for (const p of expandRole(doc, parent, [...path, role], problems)) out.add(p);
  return out;
}

function checkConditions(c: Conditions, subject: Subject, resource?: ResourceAttributes): Decision {
  if (c.aal === 'aal2' && subject.aal !== 'aal2') return { allowed: false, reason: 'aal2_required' };
  if (c.emailVerified && !subject.emailVerified) return { allowed: false, reason: 'email_not_verified' };
  if (resource) {
    if (c.owner && resource.ownerId !== subject.identityId) return { allowed: false, reason: 'not_owner' };
    if (c.restrictedAal === 'aal2' && resource.restricted && subject.aal !== 'aal2')
      return { allowed: false, reason: 'aal2_required' };
  }
  return { allowed: true };
}

/** Validates a policy document; throws a ConfigError listing every problem. */
export function createPolicy(document: unknown, source = 'policy'): Policy {
  const parsed = policySchema.safeParse(document);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${source}: ${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  const doc = parsed.data;
  const problems = crossCheck(doc);
  const granted = new Map(Object.keys(doc.roles).map((r) => [r, expandRole(doc, r, [], problems)]));
  if (problems.length > 0) throw new ConfigError(problems.map((p) => `${source}: ${p}`));

  const permissionsOf = (roles: string[]) => {
    const out = new Set<string>();
    for (const role of new Set([...doc.signedInRoles, ...roles]))
      for (const p of granted.get(role) ?? []) out.add(p);
    return out;
  };
  const mfa = doc.mandatoryMfa;
  const mandated = new Set(mfa.roles);
  const requirement: MfaRequirement = {
    graceDays: mfa.graceDays,
    ...(mfa.since !== undefined && { since: new Date(mfa.since) }),
  };
  // Asked on every session check: answered once per set of roles.
  const mustEnrolByRoles = new Map<string, boolean>();
  const mustEnrol = (roles: string[]) => {
    const key = roles.join(',');
    let must = mustEnrolByRoles.get(key);
    if (must === undefined) {
      must =
        mfa.allUsers ||
        [...doc.signedInRoles, ...roles].some((r) => mandated.has(r)) ||
        [...permissionsOf(roles)].some((p) => p.startsWith('admin:'));
      if (mustEnrolByRoles.size < 1000) mustEnrolByRoles.set(key, must);
    }
    return must;
  };
  return {
    roles: Object.keys(doc.roles),
    permissionsOf,
    mfaRequirement: (roles) => (mustEnrol(roles) ? requirement : undefined),
    authorize(subject, permission, resource) {
      const conditions = doc.permissions[permission];
      if (!conditions) return { allowed: false, reason: 'unknown_permission' };
      if (!permissionsOf(subject.roles).has(permission)) return { allowed: false, reason: 'no_role' };
      return checkConditions(conditions, subject, resource);
    },
  };
}

/** Reads and validates the policy file (a path relative to the working directory, or absolute). */
export function loadPolicy(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(resolve(path), 'utf8');
  } catch {
    throw new ConfigError([`POLICY_FILE: cannot read ${path}`]);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new ConfigError([`POLICY_FILE: ${path} is not valid JSON`]);
  }
  return createPolicy(document, path);
}
