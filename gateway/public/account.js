// Account on the demo page: Kratos second factor, recovery, verification, profile, password,
// authenticator app (QR code made by the gateway) and backup codes. No inline script (CSP).
(() => {
  const { api, refreshSession } = window.gatewayDemo;
  const $ = (id) => document.getElementById(id);
  const status = (text) => {
    $('account-status').textContent = text;
  };
  const formData = (form) => Object.fromEntries(new FormData(form).entries());

  /** Reports the outcome of a call and refreshes the session view. */
  async function report(res, done) {
    status(res.status < 300 ? done : `Refused: ${res.body?.error?.code ?? res.status}`);
    await refreshSession();
    return res.status < 300;
  }

  /** Wires a form to a handler that receives its fields; the form is reset after success. */
  function onSubmit(id, handler) {
    const form = $(id);
    if (!form) return;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (await handler(formData(form))) form.reset();
    });
  }

  onSubmit('step-up-totp-form', async ({ code }) =>
    report(await api('POST', '/step-up/totp', { code }), 'Second factor completed.'),
  );
  onSubmit('step-up-backup-form', async ({ code }) =>
    report(await api('POST', '/step-up/backup-code', { code }), 'Backup code accepted.'),
  );
  onSubmit('recovery-form', async ({ email }) =>
    report(await api('POST', '/recovery', { email }), 'If the address has an account, a code is on its way.'),
  );
  onSubmit('recovery-code-form', async ({ code }) =>
    report(await api('POST', '/recovery/code', { code }), 'Recovered: set a new password now.'),
  );
  onSubmit('verification-form', async ({ email }) =>
    report(await api('POST', '/verification', email ? { email } : {}), 'A verification code is on its way.'),
  );
  onSubmit('verification-code-form', async ({ code }) =>
    report(await api('POST', '/verification/code', { code }), 'E-mail address verified.'),
  );
  onSubmit('profile-form', async ({ first, last }) => {
    const name = Object.fromEntries(Object.entries({ first, last }).filter(([, v]) => v));
    return report(await api('PATCH', '/profile', { traits: { name } }), 'Profile saved.');
  });
  onSubmit('password-form', async ({ password }) =>
    report(await api('POST', '/password', { password }), 'Password changed.'),
  );

  async function startTotp() {
    const res = await api('POST', '/mfa/totp');
    if (res.status !== 200) return report(res, '');
    $('totp-qr').src = res.body.qrCode;
    $('totp-secret').textContent = res.body.secret;
    $('totp-enrollment').hidden = false;
    status('Scan the code with your authenticator app, then confirm a code from it.');
  }

  // A factor never raises the session that enrolled it (docs/security.md): the app counts from
  // the next sign-in, where the password sign-in then asks for a code from it.
  onSubmit('totp-confirm-form', async ({ code }) => {
    const done = await report(
      await api('POST', '/mfa/totp/confirm', { code }),
      'Authenticator app set up. It counts from your next sign-in: log out, sign in with your password, then enter a code from the app.',
    );
    if (done) $('totp-enrollment').hidden = true;
    return done;
  });

  async function generateBackupCodes() {
    const res = await api('POST', '/mfa/backup-codes');
    const list = $('backup-codes-list');
    list.replaceChildren(
      ...(res.body?.codes ?? []).map((code) => {
        const li = document.createElement('li');
        li.textContent = code;
        return li;
      }),
    );
    await report(res, 'New backup codes generated; the old ones no longer work.');
  }

  $('totp-start')?.addEventListener('click', startTotp);
  $('totp-remove')?.addEventListener('click', async () =>
    report(await api('DELETE', '/mfa/totp'), 'Authenticator app removed.'),
  );
  $('backup-codes')?.addEventListener('click', generateBackupCodes);
})();
