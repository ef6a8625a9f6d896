import type { DoubleConfig } from './config.js';
import type { IdentitySchema } from './identity.js';
import type { DoubleState } from './state.js';

/** What every handler of the double works with. */
export interface DoubleContext {
  state: DoubleState;
  config: DoubleConfig;
  schema: IdentitySchema;
  now: () => number;
  /** Known once the public server listens. */
  publicUrl: string;
  webhookUrl?: (hookName: string) => string | undefined;
  webhookApiKey?: string;
  /** The courier's `sms` channel: where texts are posted, with `Authorization: Bearer <key>`. */
  sms?: { url: string; apiKey: string };
}
