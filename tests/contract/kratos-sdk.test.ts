import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  Configuration,
  CourierApi,
  FrontendApi,
  IdentityApi,
  MetadataApi,
  ResponseError,
  type LoginFlow,
} from '@ory/kratos-client-fetch';
import { startKratosDouble, type KratosDouble } from '../doubles/kratos/index.js';
import { codeFrom, totpCode } from './kratos-contract-helpers.js';

const PASSWORD = 'correct horse battery staple';

/** The double driven through the official SDK the gateway uses, proving request and response shapes fit. */
describe('Kratos double through @ory/kratos-client-fetch', () => {
  let kratos: KratosDouble;
  let frontend: FrontendApi;
  let identities: IdentityApi;
  let courier: CourierApi;
  let metadata: MetadataApi;

  before(async () => {
    kratos = await startKratosDouble();
    frontend = new FrontendApi(new Configuration({ basePath: kratos.publicUrl }));
    identities = new IdentityApi(new Configuration({ basePath: kratos.adminUrl }));
    courier = new CourierApi(new Configuration({ basePath: kratos.adminUrl }));
    metadata = new MetadataApi(new Configuration({ basePath: kratos.adminUrl }));
  });
  after(async () => {
    await kratos.close();
  });

  async function passwordLogin(identifier: string, password = PASSWORD): Promise<string> {
    const flow = await frontend.createNativeLoginFlow();
    const result = await frontend.updateLoginFlow({
      flow: flow.id,
      updateLoginFlowBody: { method: 'password', identifier, password },
    });
    assert.ok(result.session_token);
    return result.session_token;
  }

  it('reports readiness through MetadataApi', async () => {
    assert.equal((await metadata.isReady()).status, 'ok');
    assert.equal((await metadata.isAlive()).status, 'ok');
  });

  it('creates and lists identities through IdentityApi', async () => {
    const created = await identities.createIdentity({
      createIdentityBody: {
        schema_id: 'default',
        traits: { email: 'sdk-admin@example.com' },
        metadata_public: { roles: ['user'] },
        credentials: { password: { config: { password: PASSWORD } } },
      },
    });
    assert.equal(created.traits.email, 'sdk-admin@example.com');
    const listed = await identities.listIdentities({ credentialsIdentifier: 'sdk-admin@example.com' });
    assert.deepEqual(
      listed.map((i) => i.id),
      [created.id],
    );
    const patched = await identities.patchIdentity({
      id: created.id,
      jsonPatch: [{ op: 'replace', path: '/metadata_public', value: { roles: ['admin'] } }],
    });
    assert.deepEqual(patched.metadata_public, { roles: ['admin'] });
    const fetched = await identities.getIdentity({ id: created.id, includeCredential: ['password'] });
    assert.ok(
      (fetched.credentials?.password?.config as Record<string, unknown> | undefined)?.hashed_password,
    );
  });

  it('runs the login API flow and resolves the session with whoami', async () => {
    const flow: LoginFlow = await frontend.createNativeLoginFlow();
    assert.equal(flow.ui.nodes.length, 4);
    const token = await passwordLogin('sdk-admin@example.com');
    const session = await frontend.toSession({ xSessionToken: token });
    assert.equal(session.identity?.traits.email, 'sdk-admin@example.com');
    assert.ok(session.expires_at instanceof Date);
    const sessions = await identities.listIdentitySessions({ id: session.identity?.id ?? '' });
    assert.equal(sessions.length, 1);
    await frontend.performNativeLogout({ performNativeLogoutBody: { session_token: token } });
    await assert.rejects(frontend.toSession({ xSessionToken: token }), (error: unknown) => {
      assert.ok(error instanceof ResponseError);
      assert.equal(error.response.status, 401);
      return true;
    });
  });

  it('surfaces a wrong password as a 400 whose body is the flow with message 4000006', async () => {
    const flow = await frontend.createNativeLoginFlow();
    const failure = await frontend
      .updateLoginFlow({
        flow: flow.id,
        updateLoginFlowBody: { method: 'password', identifier: 'nobody@example.com', password: 'wrong' },
      })
      .catch((error: unknown) => error);
    assert.ok(failure instanceof ResponseError);
    assert.equal(failure.response.status, 400);
    const body = (await failure.response.json()) as LoginFlow;
    assert.equal(body.ui.messages?.[0]?.id, 4000006);
  });

  it('registers, verifies by the emailed code, and reads the code through CourierApi', async () => {
    const flow = await frontend.createNativeRegistrationFlow();
    const registered = await frontend.updateRegistrationFlow({
      flow: flow.id,
      updateRegistrationFlowBody: {
        method: 'password',
        password: PASSWORD,
        traits: { email: 'sdk-new@example.com' },
      },
    });
    assert.ok(registered.session_token);
    const messages = await courier.listCourierMessages({ recipient: 'sdk-new@example.com' });
    const code = codeFrom(messages[0]?.body ?? '');
    const verification = registered.continue_with?.find((c) => c.action === 'show_verification_ui');
    assert.ok(verification && verification.action === 'show_verification_ui');
    const verified = await frontend.updateVerificationFlow({
      flow: verification.flow.id,
      updateVerificationFlowBody: { method: 'code', code },
    });
    assert.equal(verified.state, 'passed_challenge');
  });

  it('enrolls TOTP through settings and completes an aal2 login with it', async () => {
    const token = await passwordLogin('sdk-new@example.com');
    const settings = await frontend.createNativeSettingsFlow({ xSessionToken: token });
    const secretNode = settings.ui.nodes.find(
      (n) => n.attributes.node_type === 'text' && n.attributes.id === 'totp_secret_key',
    );
    assert.ok(secretNode && secretNode.attributes.node_type === 'text');
    const secret = secretNode.attributes.text.text;
    const updated = await frontend.updateSettingsFlow({
      flow: settings.id,
      xSessionToken: token,
      updateSettingsFlowBody: { method: 'totp', totp_code: totpCode(secret, Date.now()) },
    });
    assert.equal(updated.state, 'success');

    const fresh = await passwordLogin('sdk-new@example.com');
    const aal2 = await frontend.createNativeLoginFlow({ aal: 'aal2', xSessionToken: fresh });
    const done = await frontend.updateLoginFlow({
      flow: aal2.id,
      xSessionToken: fresh,
      updateLoginFlowBody: { method: 'totp', totp_code: totpCode(secret, Date.now()) },
    });
    assert.equal(done.session.authenticator_assurance_level, 'aal2');
  });

  it('recovers an account by code into a privileged session', async () => {
    const flow = await frontend.createNativeRecoveryFlow();
    await frontend.updateRecoveryFlow({
      flow: flow.id,
      updateRecoveryFlowBody: { method: 'code', email: 'sdk-admin@example.com' },
    });
    const [message] = await courier.listCourierMessages({ recipient: 'sdk-admin@example.com' });
    const recovered = await frontend.updateRecoveryFlow({
      flow: flow.id,
      updateRecoveryFlowBody: { method: 'code', code: codeFrom(message?.body ?? '') },
    });
    const tokenAction = recovered.continue_with?.find((c) => c.action === 'set_ory_session_token');
    assert.ok(tokenAction && tokenAction.action === 'set_ory_session_token');
    const session = await frontend.toSession({ xSessionToken: tokenAction.ory_session_token });
    assert.equal(session.authentication_methods?.[0]?.method, 'code_recovery');
  });
});
