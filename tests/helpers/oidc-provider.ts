import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/** Who the provider says signs in next: its subject and e-mail claims. */
export interface ProviderAccount {
  sub: string;
  email: string;
  email_verified: boolean;
}

/**
 * A real OpenID provider (the certified `oidc-provider`) on a loopback port, for social sign-in
 * tests. Its interaction signs in whichever account `signInAs` named last, without a form, so a
 * browser (or a test following redirects) goes straight through; everything else (state, PKCE,
 * nonce, the code exchange, signed ID tokens, discovery) is the provider's own.
 */
export interface OidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Registers the relying party's callback URLs (known once Kratos listens); before it, 503. */
  allowRedirects(redirectUris: string[]): void;
  signInAs(account: ProviderAccount): void;
  /** Makes every request answer 503 (an outage) until called with false. */
  down(isDown: boolean): void;
  close(): Promise<void>;
}

export async function startOidcProvider(): Promise<OidcProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'auth-gateway';
  const clientSecret = randomBytes(24).toString('base64url');
  let current: ProviderAccount | undefined;
  let isDown = false;

  const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const build = (redirectUris: string[]) => {
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: redirectUris,
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_post',
        },
      ],
      claims: { openid: ['sub'], email: ['email', 'email_verified'] },
      features: { devInteractions: { enabled: false } },
      // Kratos' generic provider reads the claims from the ID token.
      conformIdTokenClaims: false,
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      cookies: { keys: [randomBytes(32).toString('hex')] },
      jwks: { keys: [{ ...signingKey, kid: 'test', use: 'sig', alg: 'RS256' }] },
      ttl: {
        Interaction: 600,
        Session: 600,
        Grant: 600,
        AccessToken: 600,
        IdToken: 600,
        AuthorizationCode: 60,
      },
      pkce: { required: () => false },
      findAccount: (_ctx, sub) => {
        const account = current?.sub === sub ? current : undefined;
        if (!account) return undefined;
        return { accountId: sub, claims: () => ({ ...account }) };
      },
    });
    provider.proxy = false;
    return provider;
  };
  let provider: Provider | undefined;
  let callback: ReturnType<Provider['callback']> | undefined;

  const interact = async (provider: Provider, req: IncomingMessage, res: ServerResponse) => {
    const details = await provider.interactionDetails(req, res);
    if (details.prompt.name === 'login') {
      if (!current) throw new Error('the test provider has no account to sign in: call signInAs first');
      await provider.interactionFinished(req, res, { login: { accountId: current.sub } });
      return;
    }
    const accountId = details.session?.accountId;
    const grant = new provider.Grant({ accountId, clientId: details.params.client_id as string });
    grant.addOIDCScope('openid email');
    await provider.interactionFinished(
      req,
      res,
      { consent: { grantId: await grant.save() } },
      { mergeWithLastSubmission: true },
    );
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (isDown || !provider || !callback) {
      res.writeHead(503).end();
      return;
    }
    if (req.url?.startsWith('/interaction/')) {
      interact(provider, req, res).catch((err: unknown) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end(String(err));
      });
      return;
    }
    void callback(req, res);
  });

  return {
    issuer,
    clientId,
    clientSecret,
    allowRedirects: (redirectUris) => {
      provider = build(redirectUris);
      callback = provider.callback();
    },
    signInAs: (account) => {
      current = account;
    },
    down: (value) => {
      isDown = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The label tests give the provider `sso` of kratos/social-sign-in.yml. */
export const SSO_LABEL = 'Company SSO';

/**
 * Real Kratos' environment for the overlay kratos/social-sign-in.yml with `provider` as its
 * `sso` provider (render-config.sh fills the overlay's placeholders from it).
 */
export function socialSignInEnv(provider: OidcProvider): Record<string, string> {
  return {
    KRATOS_CONFIG_OVERLAYS: 'social-sign-in.yml',
    OIDC_SSO_LABEL: SSO_LABEL,
    OIDC_SSO_ISSUER_URL: provider.issuer,
    OIDC_SSO_CLIENT_ID: provider.clientId,
    OIDC_SSO_CLIENT_SECRET: provider.clientSecret,
  };
}

/**
 * Follows a browser's redirects from `start` (the provider's authorization URL) through the
 * provider and Kratos' callback, keeping each host's cookies as a browser does, until a URL
 * under `stopAt` (the app's origin); answers that URL.
 */
export async function followBrowserRedirects(start: string, stopAt: string): Promise<URL> {
  const jar = new Map<string, Map<string, string>>();
  let url = new URL(start);
  for (let hop = 0; hop < 20; hop++) {
    if (url.href.startsWith(stopAt)) return url;
    const cookies = jar.get(url.host) ?? new Map<string, string>();
    const res = await fetch(url, {
      redirect: 'manual',
      headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    jar.set(url.host, cookies);
    const location = res.headers.get('location');
    if (!location)
      throw new Error(`${url.pathname} answered ${res.status} without a redirect: ${await res.text()}`);
    url = new URL(location, url);
  }
  throw new Error('too many redirects');
}
