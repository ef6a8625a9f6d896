import { startKratosDouble, type KratosDouble, type KratosDoubleOptions } from '../doubles/kratos/index.js';
import { SSO_LABEL, socialSignInEnv, type OidcProvider } from './oidc-provider.js';
import { startRealKratos } from './real-kratos.js';

/**
 * Which Kratos the suites run against: the double (the fast tier, the default) or real Kratos
 * v1.3.1 built from its Go module (KRATOS_TARGET=real, set by `npm run test:real`).
 */
export const kratosTarget: 'double' | 'real' = process.env.KRATOS_TARGET === 'real' ? 'real' : 'double';

/** Fails a double-only request loudly when the suite runs against real Kratos. */
function doubleOnly(what: string): never {
  throw new Error(
    `${what} exists only on the Kratos double; mark this suite double-only (see README, Tests)`,
  );
}

/**
 * Starts the Kratos the run targets. Against real Kratos the options map to Kratos settings
 * (lifespans as environment overrides); a clock cannot be moved in a real server, so `now`
 * is refused there, and the double's white-box state and latency knob throw.
 */
export type KratosOptions = KratosDoubleOptions & {
  /** Social sign-in with this provider as `sso` (kratos/social-sign-in.yml). */
  socialProvider?: OidcProvider;
};

export async function startKratos(options: KratosOptions = {}): Promise<KratosDouble> {
  const { socialProvider, ...doubleOptions } = options;
  if (kratosTarget === 'double')
    return startKratosDouble({
      ...doubleOptions,
      ...(socialProvider && {
        oidcProviders: [
          {
            id: 'sso',
            label: SSO_LABEL,
            issuerUrl: socialProvider.issuer,
            clientId: socialProvider.clientId,
            clientSecret: socialProvider.clientSecret,
          },
        ],
      }),
    });
  if (options.now) doubleOnly('a movable Kratos clock');
  const env: Record<string, string> = {};
  if (options.sessionLifespanSeconds !== undefined)
    env.SESSION_LIFESPAN = `${options.sessionLifespanSeconds}s`;
  if (options.privilegedSessionMaxAgeSeconds !== undefined)
    env.SELFSERVICE_FLOWS_SETTINGS_PRIVILEGED_SESSION_MAX_AGE = `${options.privilegedSessionMaxAgeSeconds}s`;
  if (options.publicBaseUrl !== undefined) env.PUBLIC_BASE_URL = options.publicBaseUrl;
  if (options.sms) {
    env.SMS_PROVIDER_URL = options.sms.url;
    env.SMS_PROVIDER_API_KEY = options.sms.apiKey;
  }
  const real = await startRealKratos({
    webhookUrl: options.webhookUrl,
    webhookApiKey: options.webhookApiKey,
    env: { ...env, ...(socialProvider && socialSignInEnv(socialProvider)) },
  });
  return {
    publicUrl: real.publicUrl,
    adminUrl: real.adminUrl,
    setLatency: () => doubleOnly('setLatency'),
    stop: real.stop,
    start: real.start,
    close: real.close,
    get state(): KratosDouble['state'] {
      return doubleOnly('the white-box state');
    },
  };
}
