import type { Principal } from './principal.js';
import type { Session } from './session-store.js';

/**
 * What a use case knows of the request it serves, instead of Express's `req` and `res`:
 * where it comes from, its id (for the audit log), the browser's gateway session and,
 * when signed in, who is calling. Routes build it with `contextOf(req)`.
 */
export interface RequestContext {
  ip: string | undefined;
  requestId: string;
  userAgent: string | undefined;
  session: Session;
  principal?: Principal | undefined;
}
