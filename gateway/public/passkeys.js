// Passkeys on the demo page: sign-up's first passkey, adding more, login (modal, narrowed by
// the identify answer, or browser autofill), step-up, and the passkey list. Uses the
// @simplewebauthn/browser UMD global; no inline script (the CSP forbids it).
(() => {
  const { api, refreshSession } = window.gatewayDemo;
  const webauthn = window.SimpleWebAuthnBrowser;
  const $ = (id) => document.getElementById(id);
  const status = (text) => {
    $('passkey-status').textContent = text;
  };

  /** Runs a browser ceremony; a cancelled or refused prompt is reported, not thrown. */
  async function ceremony(run) {
    try {
      return await run();
    } catch (err) {
      if (err?.name !== 'AbortError') status(`The browser refused: ${err?.message ?? err}`);
      return undefined;
    }
  }

  async function finish(res, done) {
    status(res.status < 300 ? done : `Refused: ${res.body?.error?.code ?? res.status}`);
    await refreshSession();
  }

  async function addPasskey() {
    const options = await api('POST', '/passkeys/options', {});
    if (options.status !== 200) return status(`Cannot add a passkey: ${options.body?.error?.code}`);
    const credential = await ceremony(() => webauthn.startRegistration({ optionsJSON: options.body }));
    if (!credential) return;
    const nickname = $('passkey-nickname').value.trim();
    const res = await api('POST', '/passkeys', nickname ? { credential, nickname } : { credential });
    await finish(res, 'Passkey added.');
  }

  async function login(optionsJSON, useBrowserAutofill = false) {
    const credential = await ceremony(() =>
      webauthn.startAuthentication({ optionsJSON, useBrowserAutofill }),
    );
    if (!credential) return;
    await finish(await api('POST', '/login/passkey', { credential }), 'Signed in with a passkey.');
  }

  async function loginWithModal() {
    const options = await api('POST', '/login/passkey/options', {});
    if (options.status === 200) await login(options.body);
  }

  // Conditional UI: passkeys offered in the e-mail field's autofill when the page opens signed out.
  async function startAutofill() {
    if (!(await webauthn.browserSupportsWebAuthnAutofill())) return;
    if ((await fetch('/api/auth/session')).ok) return;
    const res = await fetch('/api/auth/login/passkey/options', {
      method: 'POST',
      headers: { 'X-CSRF': '1', 'Content-Type': 'application/json' },
      body: '{}',
    });
    if (res.ok) await login(await res.json(), true);
  }

  async function stepUp() {
    const options = await api('POST', '/step-up/options', {});
    if (options.status !== 200) return status(`Cannot step up: ${options.body?.error?.code}`);
    const credential = await ceremony(() => webauthn.startAuthentication({ optionsJSON: options.body }));
    if (!credential) return;
    await finish(await api('POST', '/step-up', { credential }), 'Stepped up.');
  }

  function passkeyItem(p) {
    const li = document.createElement('li');
    li.dataset.passkeyId = p.id;
    const used = p.lastUsedAt ? `last used ${new Date(p.lastUsedAt).toLocaleString()}` : 'never used';
    const label = document.createElement('span');
    label.className = 'passkey-name';
    label.textContent = `${p.nickname}${p.authenticator ? ` (${p.authenticator})` : ''}, ${used}${p.clonedSuspected ? ', DISABLED: possibly copied' : ''} `;
    const rename = document.createElement('button');
    rename.textContent = 'Rename';
    rename.className = 'secondary passkey-rename';
    rename.addEventListener('click', async () => {
      const nickname = $('passkey-nickname').value.trim() || window.prompt('New name', p.nickname);
      if (nickname) await api('PATCH', `/passkeys/${encodeURIComponent(p.id)}`, { nickname });
      await refreshPasskeys();
    });
    const remove = document.createElement('button');
    remove.textContent = 'Remove';
    remove.className = 'secondary passkey-remove';
    remove.addEventListener('click', async () => {
      const res = await api('DELETE', `/passkeys/${encodeURIComponent(p.id)}`);
      status(res.status === 204 ? 'Passkey removed.' : `Refused: ${res.body?.error?.code}`);
      await refreshPasskeys();
    });
    li.append(label, rename, remove);
    return li;
  }

  async function refreshPasskeys() {
    const list = $('passkeys-list');
    const res = await fetch('/api/auth/passkeys', { credentials: 'same-origin' });
    list.replaceChildren();
    if (!res.ok) return;
    for (const p of (await res.json()).passkeys) list.append(passkeyItem(p));
  }

  // The identify answer lists every method the deployment enables, whatever the account has,
  // with passkey request options for the identifier: offer them all and let the attempt decide.
  let identified;
  document.addEventListener('identified', (event) => {
    identified = event.detail?.passkey;
    $('passkey-identified-login').hidden = !identified;
  });
  document.addEventListener('session-changed', (event) => {
    const session = event.detail;
    if (session?.passkeyEnrollmentRequired) status('Finish signing up: add a passkey.');
    refreshPasskeys();
  });

  $('passkey-add').addEventListener('click', addPasskey);
  $('passkey-login').addEventListener('click', loginWithModal);
  $('passkey-identified-login').addEventListener('click', () => identified && login(identified));
  $('passkey-step-up').addEventListener('click', stepUp);
  $('passkey-refresh').addEventListener('click', refreshPasskeys);
  startAutofill();
})();
