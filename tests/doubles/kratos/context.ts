import type { DoubleConfig } from './config.js';
import type { IdentitySchema } from './identity.js';
import type { OidcProviderConfig } from './oidc.js';
import type { DoubleState } from './state.js';

/** What every handler of the double works with. */
export interface DoubleContext {
  state: DoubleState;
  config: DoubleConfig;
  schema: IdentitySchema;
  now: () => number;
  /** Known once the public server listens. */
  publicUrl: string;
  /** What kratos.yml's `${PUBLIC_BASE_URL}` stands for (allowed return URLs, the error page). */
  publicBaseUrl: string;
  webhookUrl?: (hookName: string) => string | undefined;
  webhookApiKey?: string;
  /** The `oidc` method's providers; empty when the method is off. */
  oidcProviders: OidcProviderConfig[];
  /** Key sealing the `state` sent to OpenID providers (Kratos encrypts it with its cipher secret). */
  stateKey: Buffer;
  /** Self-service errors shown by the error page (`/self-service/errors?id=`), by id. */
  selfServiceErrors: Map<string, { error: Record<string, unknown>; createdAt: number }>;
  /** The courier's `sms` channel: where texts are posted, with `Authorization: Bearer <key>`. */
  sms?: { url: string; apiKey: string };
}
