// Demo page for the gateway API. No framework and no inline script (the CSP forbids it).
/**
 * One call to the gateway: the CSRF header on every request, a JSON body (`json`) or raw
 * bytes with their type (`body`, `type`); the answer is shown on the page and returned.
 */
const request = async (method, url, { json, body, type } = {}) => {
  const headers = { 'X-CSRF': '1' };
  if (json !== undefined) headers['Content-Type'] = 'application/json';
  if (type) headers['Content-Type'] = type;
  const res = await fetch(url, {
    method,
    headers,
    credentials: 'same-origin',
    body: json !== undefined ? JSON.stringify(json) : body,
  });
  const text = await res.text();
  let data;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  show({ status: res.status, body: data });
  return { status: res.status, body: data };
};

const api = (method, path, json) => request(method, `/api/auth${path}`, { json });

const $ = (id) => document.getElementById(id);
const show = (value) => {
  $('output').textContent = JSON.stringify(value, null, 2);
};
const formData = (form) => Object.fromEntries(new FormData(form).entries());

async function refreshSession() {
  const res = await fetch('/api/auth/session', { credentials: 'same-origin' });
  const body = await res.json().catch(() => null);
  const code = body?.error?.code ?? '';
  $('session-view').textContent = res.ok
    ? JSON.stringify(body, null, 2)
    : code === 'aal2_required'
      ? `Second factor owed (${res.status} ${code}): complete ${(body.error.details?.methods ?? []).join(' or ') || 'it'} under "Second factor", or log out.`
      : `Not signed in (${res.status} ${code})`;
  $('session-view').dataset.aal = res.ok ? body.aal : '';
  await refreshSessions(res.ok);
  document.dispatchEvent(new CustomEvent('session-changed', { detail: res.ok ? body : null }));
  return res.ok ? body : null;
}

async function refreshSessions(signedIn) {
  const list = $('sessions-list');
  list.replaceChildren();
  if (!signedIn) return;
  const res = await fetch('/api/auth/sessions', { credentials: 'same-origin' });
  if (!res.ok) return;
  const { sessions } = await res.json();
  for (const s of sessions) {
    const li = document.createElement('li');
    li.textContent = `${s.source} ${s.id.slice(0, 12)}… ${s.methods.join('+')} ${s.current ? '(this one)' : ''} `;
    if (!s.current) {
      const revoke = document.createElement('button');
      revoke.textContent = 'Revoke';
      revoke.className = 'secondary';
      revoke.addEventListener('click', async () => {
        await api('DELETE', `/sessions/${encodeURIComponent(s.id)}`);
        await refreshSession();
      });
      li.append(revoke);
    }
    list.append(li);
  }
}

function on(id, event, handler) {
  const el = $(id);
  if (el) el.addEventListener(event, handler);
}

on('refresh-session', 'click', refreshSession);
on('logout', 'click', async () => {
  await api('POST', '/logout');
  await refreshSession();
});
on('logout-all', 'click', async () => {
  await api('POST', '/logout/all');
  await refreshSession();
});

// Sign-up proves the address first: the gateway mails a code (or, for a taken address, tells
// its owner), answers 202 either way, and the account exists once the code is confirmed.
on('register-form', 'submit', async (event) => {
  event.preventDefault();
  const { email, password } = formData(event.target);
  const res = await api('POST', '/register', password ? { email, password } : { email });
  if (res.status !== 202) return;
  const confirm = $('register-confirm-form');
  confirm.elements.email.value = email;
  confirm.elements.code.value = '';
  confirm.hidden = false;
  confirm.elements.code.focus();
});

on('register-confirm-form', 'submit', async (event) => {
  event.preventDefault();
  const { email, code } = formData(event.target);
  const res = await api('POST', '/register/confirm', { email, code: code.trim() });
  if (res.status === 201) event.target.hidden = true;
  await refreshSession();
  document.dispatchEvent(new CustomEvent('registered', { detail: res }));
});

on('identify-form', 'submit', async (event) => {
  event.preventDefault();
  const res = await api('POST', '/identify', formData(event.target));
  if (res.status === 200) $('identify-result').textContent = `Sign in with: ${res.body.methods.join(' or ')}`;
  document.dispatchEvent(new CustomEvent('identified', { detail: res.body }));
});

on('password-login-form', 'submit', async (event) => {
  event.preventDefault();
  const identifier = $('login-identifier').value;
  await api('POST', '/login/password', { identifier, password: formData(event.target).password });
  await refreshSession();
});

window.gatewayDemo = { api, request, refreshSession, show };
refreshSession();
