import {
  Configuration,
  FrontendApi,
  IdentityApi,
  MetadataApi,
  ResponseError,
  type Identity,
  type SuccessfulNativeLogin,
  type Session,
  type UiText,
} from '@ory/kratos-client-fetch';
import { AppError } from '../errors/app-error.js';
import { createHttpTransport, toResponse, type RawAnswer } from './http-transport.js';
import type { Aal, KratosIdentity, KratosSession, WhoamiResult } from './types.js';

/**
 * The gateway's only door to Kratos (public and admin APIs). It returns the plain types of
 * `./types.ts` and maps Kratos' "soft" errors (400 validation, 401, 403 aal2, 404/410
 * flow gone) in one place, so callers never see the SDK.
 */
interface KratosClientOptions {
  publicUrl: string;
  adminUrl: string;
  timeoutMs: number;
}

export type KratosClient = ReturnType<typeof createKratosClient>;

interface KratosErrorBody {
  error?: { id?: string; code?: number; reason?: string; message?: string };
  /** With error id browser_location_change_required: where the browser goes next. */
  redirect_browser_to?: string;
  ui?: { messages?: UiText[]; nodes?: { messages?: UiText[]; attributes?: { name?: string } }[] };
}

/** The first error-type message of a Kratos answer: Kratos writes these for end users. */
function firstErrorMessage(body: KratosErrorBody): string | undefined {
  const ui = body.ui;
  const all = [...(ui?.messages ?? []), ...(ui?.nodes ?? []).flatMap((n) => n.messages ?? [])];
  return all.find((m) => m.type === 'error')?.text ?? body.error?.reason ?? body.error?.message;
}

/**
 * Kratos refused a request (a 4xx, with its JSON body). It is an AppError carrying Kratos'
 * own status, so a refusal that no caller maps to a finer code still reaches the client as
 * that 4xx with Kratos' message, never as a 500.
 */
export class KratosHttpError extends AppError {
  constructor(
    status: number,
    readonly body: KratosErrorBody,
  ) {
    super(
      'identity_service_refused',
      status,
      firstErrorMessage(body) ?? 'The identity service refused this request.',
    );
    this.name = 'KratosHttpError';
  }

  /** Every UI message id of the flow, at flow and at node level. */
  messageIds(): number[] {
    const ui = this.body.ui;
    const ids = (ui?.messages ?? []).map((m) => m.id);
    for (const node of ui?.nodes ?? []) for (const m of node.messages ?? []) ids.push(m.id);
    return ids;
  }

  /** The first error-type message text, for a clear answer to the user. */
  firstMessage(): string | undefined {
    return firstErrorMessage(this.body);
  }
}

/** Turns whatever the SDK threw into a KratosHttpError (Kratos answered) or a 503 AppError (it did not). */
async function toKratosError(err: unknown): Promise<Error> {
  if (err instanceof ResponseError) {
    const body = (await err.response.json().catch(() => ({}))) as KratosErrorBody;
    if (err.response.status < 400 || err.response.status >= 500) {
      return new AppError('kratos_unavailable', 502, 'The identity service failed.', { cause: body.error });
    }
    return new KratosHttpError(err.response.status, body);
  }
  return new AppError('kratos_unavailable', 503, 'The identity service is unavailable.', { cause: err });
}

/** The JSON body of a Kratos answer; a body that is not JSON is Kratos failing (502). */
function jsonOf<T>(answer: RawAnswer): T {
  try {
    return JSON.parse(answer.body.toString('utf8')) as T;
  } catch (err) {
    throw new AppError('kratos_invalid_response', 502, 'Kratos answered with invalid JSON.', { cause: err });
  }
}

/** Runs an SDK call and rethrows its failure in our terms. */
export async function callKratos<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw await toKratosError(err);
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

const iso = (d: Date | string | undefined) => (d ? new Date(d).toISOString() : new Date(0).toISOString());

export function toIdentity(identity: Identity): KratosIdentity {
  const traits = asRecord(identity.traits);
  const email = typeof traits.email === 'string' ? traits.email : '';
  const phone = typeof traits.phone === 'string' && traits.phone !== '' ? traits.phone : undefined;
  const verified = (value: string | undefined, via: string) =>
    value !== undefined &&
    (identity.verifiable_addresses ?? []).some((a) => a.value === value && a.via === via && a.verified);
  return {
    id: identity.id,
    state: identity.state === 'inactive' ? 'inactive' : 'active',
    email,
    emailVerified: verified(email, 'email'),
    ...(phone !== undefined && { phone, phoneVerified: verified(phone, 'sms') }),
    traits,
    metadataPublic: asRecord(identity.metadata_public),
    metadataAdmin: asRecord(identity.metadata_admin),
    credentialTypes: Object.entries(identity.credentials ?? {})
      .filter(([type, c]) => c && credentialIsSet(type, c))
      .map(([type]) => type),
    createdAt: iso(identity.created_at),
  };
}

/**
 * Whether a credential is really set up. Kratos gives every identity whose schema marks the
 * e-mail as a password identifier a `password` credential with that identifier, even when no
 * password was ever set (identity/extension_credentials.go): only a stored hash makes it a
 * password, so identities are read with `include_credential=password`.
 */
function credentialIsSet(type: string, credential: NonNullable<Identity['credentials']>[string]): boolean {
  if (type === 'password') {
    const hashed = (credential.config as { hashed_password?: unknown } | undefined)?.hashed_password;
    return typeof hashed === 'string' && hashed.length > 0;
  }
  return Boolean(
    credential.identifiers?.length || type === 'totp' || type === 'lookup_secret' || credential.config,
  );
}

function toSession(session: Session): KratosSession {
  if (!session.identity)
    throw new AppError('kratos_invalid_response', 502, 'Kratos returned a session without identity.');
  return {
    id: session.id,
    active: session.active ?? false,
    aal: (session.authenticator_assurance_level as Aal | undefined) === 'aal2' ? 'aal2' : 'aal1',
    authenticatedAt: iso(session.authenticated_at),
    issuedAt: iso(session.issued_at),
    expiresAt: iso(session.expires_at),
    methods: (session.authentication_methods ?? []).map((m) => ({
      method: m.method ?? 'unknown',
      aal: m.aal === 'aal2' ? 'aal2' : 'aal1',
      completedAt: iso(m.completed_at),
    })),
    identity: toIdentity(session.identity),
    devices: (session.devices ?? []).map((d) => ({ ipAddress: d.ip_address, userAgent: d.user_agent })),
  };
}

/** Kratos' 403 `session_aal2_required` (whoami with `required_aal: highest_available`). */
function isAal2Required(err: unknown): boolean {
  return (
    err instanceof KratosHttpError && err.status === 403 && err.body.error?.id === 'session_aal2_required'
  );
}

export function createKratosClient(options: KratosClientOptions) {
  // Keep-alive connections; each call gets its own deadline so a slow Kratos never hangs a request.
  const http = createHttpTransport({ timeoutMs: options.timeoutMs });
  const fetchApi = http.fetch;
  // Kratos answers a self-service submission without `Accept: application/json` with a 303 to
  // its UI (even for an API verification flow), which fetch would follow: always ask for JSON.
  const headers = { Accept: 'application/json' };
  const publicConfig = new Configuration({
    basePath: options.publicUrl.replace(/\/$/, ''),
    fetchApi,
    headers,
  });
  const adminBase = options.adminUrl.replace(/\/$/, '');
  const adminConfig = new Configuration({ basePath: adminBase, fetchApi, headers });
  const frontend = new FrontendApi(publicConfig);
  const admin = new IdentityApi(adminConfig);
  const metadata = new MetadataApi(adminConfig);

  async function whoami(credential: { token: string } | { cookie: string }): Promise<WhoamiResult> {
    try {
      const session = await callKratos(() =>
        frontend.toSession(
          'token' in credential ? { xSessionToken: credential.token } : { cookie: credential.cookie },
        ),
      );
      return { status: 'active', session: toSession(session) };
    } catch (err) {
      if (isAal2Required(err)) return { status: 'aal2_required' };
      if (err instanceof KratosHttpError && (err.status === 401 || err.status === 403))
        return { status: 'invalid' };
      throw err;
    }
  }

  /**
   * The session token and session of a completed login flow. While the session owes its second
   * factor (whoami.required_aal: highest_available), Kratos leaves the identity out of the answer
   * (selfservice/flow/login/hook.go): the admin API names it (without its addresses), and the
   * identity is read whole.
   */
  async function signedIn(result: SuccessfulNativeLogin) {
    if (!result.session_token)
      throw new AppError('kratos_invalid_response', 502, 'Kratos returned no session token.');
    let session = result.session;
    if (!session.identity) {
      const named = await callKratos(() => admin.getSession({ id: session.id, expand: ['identity'] }));
      const identityId = named.identity?.id;
      const identity = identityId
        ? await callKratos(() => admin.getIdentity({ id: identityId, includeCredential: ['password'] }))
        : undefined;
      session = { ...named, identity };
    }
    return { sessionToken: result.session_token, session: toSession(session) };
  }

  return {
    /** Raw SDK objects for the kratos/ modules that run settings, recovery and verification flows. */
    frontend,
    admin,

    whoami,
    signedIn,

    /**
     * Runs a native (API) password login flow, a new one or the one named (a social sign-in's
     * flow that Kratos holds a credential to link in); answers the session token and session.
     */
    async loginWithPassword(identifier: string, password: string, flowId?: string) {
      const id = flowId ?? (await callKratos(() => frontend.createNativeLoginFlow())).id;
      const result = await callKratos(() =>
        frontend.updateLoginFlow({
          flow: id,
          updateLoginFlowBody: { method: 'password', identifier, password },
        }),
      );
      return signedIn(result);
    },

    /** Runs a native registration flow with a password; Kratos' session hook issues a token. */
    async registerWithPassword(traits: Record<string, unknown>, password: string) {
      const flow = await callKratos(() => frontend.createNativeRegistrationFlow());
      const result = await callKratos(() =>
        frontend.updateRegistrationFlow({
          flow: flow.id,
          updateRegistrationFlowBody: { method: 'password', password, traits },
        }),
      );
      return {
        identity: toIdentity(result.identity),
        sessionToken: result.session_token,
        session: result.session ? toSession(result.session) : undefined,
      };
    },

    /** Revokes the session behind a Kratos session token. */
    async logoutToken(sessionToken: string) {
      try {
        await callKratos(() =>
          frontend.performNativeLogout({ performNativeLogoutBody: { session_token: sessionToken } }),
        );
      } catch (err) {
        // Already gone at Kratos: the goal of a logout is reached.
        if (
          err instanceof KratosHttpError &&
          (err.status === 401 || err.status === 403 || err.status === 404)
        )
          return;
        throw err;
      }
    },

    /**
     * The identity, read fresh (every sign-in asks): straight over HTTP and parsed here, without
     * the SDK's objects, as it is on the path of every sign-in.
     */
    async getIdentity(id: string): Promise<KratosIdentity | undefined> {
      const url = `${adminBase}/admin/identities/${encodeURIComponent(id)}?include_credential=password`;
      const answer = await callKratos(() => http.request(url, 'GET', headers));
      if (answer.status === 404) return undefined;
      if (answer.status !== 200) throw await toKratosError(new ResponseError(toResponse(answer)));
      return toIdentity(jsonOf<Identity>(answer));
    },

    /** The identity whose credentials use this identifier (email), if any. */
    async findIdentityByIdentifier(identifier: string): Promise<KratosIdentity | undefined> {
      const found = await callKratos(() => admin.listIdentities({ credentialsIdentifier: identifier }));
      return found[0] ? toIdentity(found[0]) : undefined;
    },

    async createIdentity(input: {
      traits: Record<string, unknown>;
      password?: string;
      metadataPublic?: Record<string, unknown>;
      state?: 'active' | 'inactive';
      /** An address the caller has proven: stored as verified (Kratos' identity import). */
      verifiedAddress?: string;
    }): Promise<KratosIdentity> {
      const identity = await callKratos(() =>
        admin.createIdentity({
          createIdentityBody: {
            schema_id: 'default',
            traits: input.traits,
            state: input.state ?? 'active',
            metadata_public: input.metadataPublic,
            credentials: input.password ? { password: { config: { password: input.password } } } : undefined,
            verifiable_addresses: input.verifiedAddress
              ? [{ value: input.verifiedAddress, via: 'email', verified: true, status: 'completed' }]
              : undefined,
          },
        }),
      );
      return toIdentity(identity);
    },

    /** Applies a JSON Patch to an identity through the admin API. */
    async patchIdentity(
      id: string,
      patch: { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown }[],
    ) {
      return toIdentity(await callKratos(() => admin.patchIdentity({ id, jsonPatch: patch })));
    },

    async listIdentitySessions(identityId: string): Promise<KratosSession[]> {
      const sessions = await callKratos(() => admin.listIdentitySessions({ id: identityId, active: true }));
      return sessions.filter((s) => s.identity).map(toSession);
    },

    /** Revokes one Kratos session; an unknown id is already revoked. */
    async revokeSession(sessionId: string) {
      try {
        await callKratos(() => admin.disableSession({ id: sessionId }));
      } catch (err) {
        if (err instanceof KratosHttpError && err.status === 404) return;
        throw err;
      }
    },

    async revokeIdentitySessions(identityId: string) {
      try {
        await callKratos(() => admin.deleteIdentitySessions({ id: identityId }));
      } catch (err) {
        if (err instanceof KratosHttpError && err.status === 404) return;
        throw err;
      }
    },

    /** Kratos' readiness (admin API). */
    async ready(): Promise<boolean> {
      try {
        await metadata.isReady();
        return true;
      } catch {
        return false;
      }
    },
  };
}
