/** One path rule of a Vault ACL policy: a path glob and the capabilities it grants. */
export interface PolicyRule {
  path: string;
  capabilities: string[];
}

/**
 * Parses the `path "..." { capabilities = [...] }` blocks of an HCL policy, which is all
 * a gateway policy uses, so that tests can load the policy file shipped in `vault/policies`.
 */
export function parsePolicyHcl(hcl: string): PolicyRule[] {
  const withoutComments = hcl.replace(/^\s*#.*$/gm, '');
  const rules: PolicyRule[] = [];
  const block = /path\s+"([^"]+)"\s*\{([^}]*)\}/g;
  for (const match of withoutComments.matchAll(block)) {
    const caps = /capabilities\s*=\s*\[([^\]]*)\]/.exec(match[2] ?? '');
    const capabilities = [...(caps?.[1] ?? '').matchAll(/"([^"]+)"/g)].map((c) => c[1] ?? '');
    rules.push({ path: match[1] ?? '', capabilities });
  }
  return rules;
}

/**
 * Vault glob semantics: `+` matches exactly one path segment, a trailing `*` matches any
 * suffix; anything else must match literally.
 */
export function pathMatches(glob: string, path: string): boolean {
  const prefixOnly = glob.endsWith('*');
  const pattern = prefixOnly ? glob.slice(0, -1) : glob;
  const source = pattern
    .split('+')
    .map((part) => part.replace(/[.*?^${}()|[\]\\]/g, '\\$&'))
    .join('[^/]+');
  return new RegExp(`^${source}${prefixOnly ? '.*' : ''}$`).test(path);
}

/** The rule that applies to a path: the most specific (longest) matching glob wins. */
export function capabilitiesFor(rules: PolicyRule[], path: string): string[] {
  const matching = rules.filter((rule) => pathMatches(rule.path, path));
  if (matching.length === 0) return [];
  const best = matching.sort((a, b) => b.path.length - a.path.length)[0];
  return best?.capabilities ?? [];
}
