import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startKratosDouble, type KratosDouble } from '../doubles/kratos/index.js';
import { kratosSpecPath, totpCode } from './kratos-contract-helpers.js';

/** Kratos' own test snapshots of real `ui.nodes`, published next to the API document. */
const snapshotDir = path.join(path.dirname(kratosSpecPath), 'snapshots');
const PASSWORD = 'correct horse battery staple';

interface UiNode {
  type: string;
  group: string;
  attributes: Record<string, unknown>;
  messages: unknown[];
  meta: Record<string, unknown>;
}

function snapshot(name: string): UiNode[] {
  const json = JSON.parse(readFileSync(path.join(snapshotDir, `${name}.json`), 'utf8')) as
    UiNode[] | { nodes: UiNode[] };
  return normalise(Array.isArray(json) ? json : json.nodes);
}

/**
 * Drops what Kratos' snapshots leave out because it changes per run: the CSRF token, the QR
 * image and the TOTP secret itself.
 */
function normalise(nodes: UiNode[]): UiNode[] {
  return nodes.map((node) => {
    const attributes = structuredClone(node.attributes);
    if (attributes.name === 'csrf_token') delete attributes.value;
    if (node.type === 'img') delete attributes.src;
    if (attributes.id === 'totp_secret_key') {
      const text = attributes.text as { text?: string; context?: Record<string, unknown> };
      delete text.text;
      text.context = {};
    }
    return { ...node, attributes };
  });
}

describe('Kratos double ui.nodes match Kratos v1.3.1 snapshots', () => {
  let kratos: KratosDouble;
  const json = async (url: string, init: RequestInit = {}) => {
    const response = await fetch(url, {
      ...init,
      headers: { 'content-type': 'application/json', ...init.headers },
    });
    return (await response.json()) as { id: string; ui: { nodes: UiNode[] }; session_token: string };
  };
  const login = async (email: string) => {
    const flow = await json(`${kratos.publicUrl}/self-service/login/api`);
    const done = await json(`${kratos.publicUrl}/self-service/login?flow=${flow.id}`, {
      method: 'POST',
      body: JSON.stringify({ method: 'password', identifier: email, password: PASSWORD }),
    });
    return done.session_token;
  };
  const seed = async (email: string) =>
    json(`${kratos.adminUrl}/admin/identities`, {
      method: 'POST',
      body: JSON.stringify({
        schema_id: 'default',
        traits: { email },
        credentials: { password: { config: { password: PASSWORD } } },
      }),
    });
  const settings = async (token: string) =>
    json(`${kratos.publicUrl}/self-service/settings/api`, { headers: { 'x-session-token': token } });
  const group = (nodes: UiNode[], ...groups: string[]) =>
    normalise(nodes.filter((n) => groups.includes(n.group)));

  before(async () => {
    kratos = await startKratosDouble();
  });
  after(async () => {
    await kratos.close();
  });

  it('password first factor', async () => {
    const flow = await json(`${kratos.publicUrl}/self-service/login/api`);
    assert.deepEqual(
      normalise(flow.ui.nodes),
      snapshot('selfservice_strategy_password__TestFormHydration-method=PopulateLoginMethodFirstFactor'),
    );
  });

  it('password refresh', async () => {
    await seed('some@user.com');
    const token = await login('some@user.com');
    const flow = await json(`${kratos.publicUrl}/self-service/login/api?refresh=true`, {
      headers: { 'x-session-token': token },
    });
    assert.deepEqual(
      normalise(flow.ui.nodes),
      snapshot(
        'selfservice_strategy_password__TestFormHydration-method=PopulateLoginMethodFirstFactorRefresh',
      ),
    );
  });

  it('recovery by code, choosing the method', async () => {
    const flow = await json(`${kratos.publicUrl}/self-service/recovery/api`);
    const expected = JSON.parse(
      readFileSync(
        path.join(
          snapshotDir,
          'selfservice_flow_recovery__TestHandleError-flow=api-case=fails_if_active_strategy_is_disabled.json',
        ),
        'utf8',
      ),
    ) as { ui: { nodes: UiNode[] } };
    assert.deepEqual(normalise(flow.ui.nodes), normalise(expected.ui.nodes));
  });

  it('TOTP setup and unlinking in settings, and TOTP at login', async () => {
    await seed('totp@example.com');
    const token = await login('totp@example.com');
    const flow = await settings(token);
    assert.deepEqual(
      group(flow.ui.nodes, 'default', 'totp'),
      snapshot(
        'selfservice_strategy_totp__TestCompleteSettings-case=device_setup_is_available_when_identity_has_no_totp_yet',
      ),
    );
    const secretNode = flow.ui.nodes.find((n) => n.attributes.id === 'totp_secret_key');
    const secret = (secretNode?.attributes.text as { text: string }).text;
    const updated = await json(`${kratos.publicUrl}/self-service/settings?flow=${flow.id}`, {
      method: 'POST',
      headers: { 'x-session-token': token },
      body: JSON.stringify({ method: 'totp', totp_code: totpCode(secret, Date.now()) }),
    });
    assert.deepEqual(
      group(updated.ui.nodes, 'default', 'totp'),
      snapshot(
        'selfservice_strategy_totp__TestCompleteSettings-case=device_unlinking_is_available_when_identity_has_totp',
      ),
    );
    const fresh = await login('totp@example.com');
    const aal2 = await json(`${kratos.publicUrl}/self-service/login/api?aal=aal2`, {
      headers: { 'x-session-token': fresh },
    });
    assert.deepEqual(
      normalise(aal2.ui.nodes),
      snapshot(
        'selfservice_strategy_totp__TestCompleteLogin-case=totp_payload_is_set_when_identity_has_totp',
      ),
    );
  });

  it('backup codes in settings and at login', async () => {
    await seed('lookup@example.com');
    const token = await login('lookup@example.com');
    const flow = await settings(token);
    assert.deepEqual(
      group(flow.ui.nodes, 'default', 'lookup_secret'),
      snapshot(
        'selfservice_strategy_lookup__TestCompleteSettings-case=button_for_regeneration_is_displayed_when_identity_has_no_recovery_codes_yet-case=api',
      ),
    );
    const post = (body: Record<string, unknown>) =>
      json(`${kratos.publicUrl}/self-service/settings?flow=${flow.id}`, {
        method: 'POST',
        headers: { 'x-session-token': token },
        body: JSON.stringify({ method: 'lookup_secret', ...body }),
      });
    await post({ lookup_secret_regenerate: true });
    const confirmed = await post({ lookup_secret_confirm: true });
    assert.deepEqual(
      group(confirmed.ui.nodes, 'default', 'lookup_secret'),
      snapshot(
        'selfservice_strategy_lookup__TestCompleteSettings-case=hide_recovery_codes_behind_reveal_button_and_show_disable_button-case=api',
      ),
    );
    const fresh = await login('lookup@example.com');
    const aal2 = await json(`${kratos.publicUrl}/self-service/login/api?aal=aal2`, {
      headers: { 'x-session-token': fresh },
    });
    assert.deepEqual(
      normalise(aal2.ui.nodes),
      snapshot(
        'selfservice_strategy_lookup__TestCompleteLogin-case=lookup_payload_is_set_when_identity_has_lookup',
      ),
    );
  });
});
