import createClient, { type Client } from 'openapi-fetch';
import {
  errorFromAnswer,
  errorFromThrown,
  fail,
  isAal2Required,
  ok,
  type GatewayError,
  type Result,
} from './errors.js';
import type { paths } from './schema.js';

/** The typed openapi-fetch client of the whole API (paths, parameters and bodies from the document). */
export type Api = Client<paths>;

/** What an openapi-fetch call resolves to. */
interface Settled<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** `Result<undefined>` for answers without a body (204). */
type Data<T> = [T] extends [never] ? undefined : T;

/**
 * Decides what to do when a call is answered 403 `aal2_required`: typically asks the user for
 * a second factor (passkey, authenticator app, backup code) and resolves `true` once the session
 * is at aal2, so the call is made once more; `false` gives the refusal to the caller.
 */
export type StepUpHandler = (error: Extract<GatewayError, { kind: 'api' }>) => Promise<boolean>;

export interface GatewayClientOptions {
  /** Where the gateway is; default: this page's origin (`''`). */
  baseUrl?: string;
  /** Another fetch (tests, server-side rendering). */
  fetch?: typeof fetch;
  /** See `StepUpHandler`; can be set later with `setStepUpHandler`. */
  onAal2Required?: StepUpHandler;
}

export interface GatewayClient {
  /** The typed API: `api.GET('/api/jars')`, `api.POST('/api/auth/login/password', { body })`, … */
  readonly api: Api;
  readonly baseUrl: string;
  /**
   * Makes a call and settles it into a `Result`: never throws. A 403 `aal2_required` goes to
   * the step-up handler first (unless `stepUp: false`), and the call is retried once after it.
   */
  run<T>(call: (api: Api) => Promise<Settled<T>>, options?: { stepUp?: boolean }): Promise<Result<Data<T>>>;
  setStepUpHandler(handler: StepUpHandler | undefined): void;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A client for the gateway: sends the session cookie (`credentials: 'include'`), `X-CSRF: 1` on
 * every state-changing request, and turns every failure into a typed `GatewayError`.
 */
export function createGatewayClient(options: GatewayClientOptions = {}): GatewayClient {
  const baseUrl = options.baseUrl ?? '';
  const custom = options.fetch;
  const api = createClient<paths>({
    baseUrl,
    credentials: 'include',
    ...(custom && { fetch: (request: Request) => custom(request) }),
  });
  api.use({
    onRequest({ request }) {
      if (!SAFE_METHODS.has(request.method)) request.headers.set('X-CSRF', '1');
      return request;
    },
  });
  let onAal2Required = options.onAal2Required;

  async function run<T>(
    call: (api: Api) => Promise<Settled<T>>,
    runOptions: { stepUp?: boolean } = {},
  ): Promise<Result<Data<T>>> {
    let settled: Settled<T>;
    try {
      settled = await call(api);
    } catch (thrown) {
      return fail(errorFromThrown(thrown));
    }
    if (settled.response.ok) return ok(settled.data as Data<T>);
    const error = errorFromAnswer(settled.response, settled.error);
    if (isAal2Required(error) && runOptions.stepUp !== false && onAal2Required) {
      let raised = false;
      try {
        raised = await onAal2Required(error);
      } catch {
        raised = false;
      }
      if (raised) return run(call, { stepUp: false });
    }
    return fail(error);
  }

  return {
    api,
    baseUrl,
    run,
    setStepUpHandler(handler) {
      onAal2Required = handler;
    },
  };
}
