import type { Request, Router } from 'express';
import type { Config } from '../config.js';
import { createRateLimiter, type IdentifierOf, type LimitRule, type RateLimitDeps } from './rate-limit.js';

const bodyField =
  (...names: string[]): IdentifierOf =>
  (req) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    for (const name of names) {
      const value = body[name];
      if (typeof value === 'string' && value.trim() !== '') return value;
    }
    return undefined;
  };

/** The identity a signed-in (or half signed-in) request belongs to. */
const identityOf: IdentifierOf = (req: Request) => req.principal?.identityId ?? req.session?.auth?.identityId;

/**
 * Whoever a one-time code is entered for: the address a recovery was asked for, else the
 * signed-in identity, else the browser session holding the pending flow (the code body
 * names nothing else, and a browser that drops its cookie drops the flow too).
 */
const codeHolder: IdentifierOf = (req) =>
  req.session?.accountFlows?.recovery?.address ??
  req.session?.accountFlows?.login_code?.address ??
  req.session?.accountFlows?.social_link?.address ??
  req.session?.accountFlows?.login_sms_code?.address ??
  identityOf(req) ??
  (req.session?.accountFlows ? req.session.key : undefined);

/** The address a refused social sign-in asserted, whose password links the provider. */
const socialLinkAddress: IdentifierOf = (req) => req.session?.accountFlows?.social_link?.address;

/** A body identifier when one is sent (passkey login options), else the session's identity. */
const bodyOrIdentity: IdentifierOf = (req) => bodyField('identifier', 'email')(req) ?? identityOf(req);

interface LimitedRoutes {
  name: string;
  /** Default POST. */
  method?: 'get' | 'post';
  paths: string[];
  rule: LimitRule;
  identifier: IdentifierOf;
}

/** What the authentication API's limits read. */
type AuthLimitDeps = RateLimitDeps & {
  config: Pick<
    Config,
    | 'RATE_LIMIT_LOGIN'
    | 'RATE_LIMIT_REGISTRATION'
    | 'RATE_LIMIT_IDENTIFY'
    | 'RATE_LIMIT_RECOVERY'
    | 'RATE_LIMIT_VERIFICATION'
    | 'RATE_LIMIT_SECOND_FACTOR'
    | 'RATE_LIMIT_PASSKEY'
  >;
};

function limitedRoutes(deps: AuthLimitDeps): LimitedRoutes[] {
  const c = deps.config;
  return [
    {
      name: 'login',
      // Asking for a sign-in code costs what a password attempt costs.
      paths: ['/login/password', '/login/code', '/login/sms'],
      rule: c.RATE_LIMIT_LOGIN,
      identifier: bodyField('identifier', 'phone'),
    },
    // Linking a social sign-in's provider is a password attempt on the account it asserted.
    {
      name: 'login',
      paths: ['/social-links', '/social-links/code'],
      rule: c.RATE_LIMIT_LOGIN,
      identifier: socialLinkAddress,
    },
    // Each social sign-in starts a Kratos flow and sends the browser to the provider and back.
    {
      name: 'social',
      method: 'get',
      paths: ['/oidc/:provider'],
      rule: c.RATE_LIMIT_LOGIN,
      identifier: identityOf,
    },
    {
      name: 'register',
      // Both steps of a sign-up share one counter: a code guess costs what a sign-up costs.
      paths: ['/register', '/register/confirm'],
      rule: c.RATE_LIMIT_REGISTRATION,
      identifier: bodyField('email'),
    },
    {
      name: 'identify',
      paths: ['/identify'],
      rule: c.RATE_LIMIT_IDENTIFY,
      identifier: bodyField('identifier'),
    },
    { name: 'recovery', paths: ['/recovery'], rule: c.RATE_LIMIT_RECOVERY, identifier: bodyField('email') },
    {
      name: 'verification',
      paths: ['/verification'],
      rule: c.RATE_LIMIT_VERIFICATION,
      identifier: bodyField('email'),
    },
    // Entering a one-time code is guessing a short secret, like a second factor.
    {
      name: 'code',
      paths: [
        '/recovery/code',
        '/verification/code',
        '/login/code/verify',
        '/login/sms/verify',
        '/social-links/code/verify',
      ],
      rule: c.RATE_LIMIT_SECOND_FACTOR,
      identifier: codeHolder,
    },
    {
      name: 'second-factor',
      // Asking for an e-mailed second-factor code counts like entering one: each mails someone.
      paths: [
        '/step-up/totp',
        '/step-up/backup-code',
        '/step-up/email/options',
        '/step-up/email',
        '/mfa/email',
        '/mfa/email/confirm',
        '/step-up/sms/options',
        '/step-up/sms',
        '/mfa/sms',
        '/mfa/sms/confirm',
        // Setting a phone number texts it a code; proving it is entering one.
        '/phone',
        '/phone/verify',
      ],
      rule: c.RATE_LIMIT_SECOND_FACTOR,
      identifier: identityOf,
    },
    // A ceremony is an options request and its answer: each half has its own counter.
    {
      name: 'passkey-options',
      paths: ['/login/passkey/options', '/step-up/options', '/passkeys/options'],
      rule: c.RATE_LIMIT_PASSKEY,
      identifier: bodyOrIdentity,
    },
    {
      name: 'passkey-verify',
      paths: ['/login/passkey', '/step-up'],
      rule: c.RATE_LIMIT_PASSKEY,
      identifier: identityOf,
    },
  ];
}

/**
 * The rate limits of the authentication API (mounted on `/api/auth` before its routes):
 * every limited route is counted per client IP and per identifier, in counters shared by
 * every replica through Redis. Limits come from the RATE_LIMIT_* configuration keys.
 */
export function registerAuthRateLimits(router: Router, deps: AuthLimitDeps): void {
  for (const group of limitedRoutes(deps)) {
    const perIp = createRateLimiter(deps, { name: group.name, rule: group.rule, by: 'ip' });
    const perIdentifier = createRateLimiter(deps, {
      name: group.name,
      rule: group.rule,
      by: group.identifier,
    });
    router[group.method ?? 'post'](group.paths, perIp, perIdentifier);
  }
}
