export {
  createGatewayClient,
  type Api,
  type GatewayClient,
  type GatewayClientOptions,
  type StepUpHandler,
} from './client.js';
export {
  describeError,
  errorFromAnswer,
  errorFromThrown,
  isAal2Required,
  isErrorBody,
  type ErrorCode,
  type GatewayError,
  type Result,
} from './errors.js';
export { downloadUrl, uploadFile, type JarFile } from './files.js';
export { socialOutcome, socialSignInUrl, type SocialOutcome } from './social.js';
export {
  cancelPasskeyAutofill,
  registerPasskey,
  signInWithPasskey,
  signInWithPasskeyAutofill,
  stepUpWithPasskey,
  type Session,
} from './webauthn.js';
export type { components, operations, paths } from './schema.js';

type Schemas = import('./schema.js').components['schemas'];
/** The answers' shapes by name, e.g. `Schema<'Jar'>`. */
export type Schema<Name extends keyof Schemas> = Schemas[Name];
