import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppError } from '../../../gateway/src/errors/app-error.js';
import { confirmRegistration, startRegistration } from '../../../gateway/src/login/register.js';
import { findProfile } from '../../../gateway/src/profiles/profile-store.js';
import type { RequestContext } from '../../../gateway/src/session/request-context.js';
import { PASSWORD, startWorld, uniqueAddress, type UseCaseWorld } from './world.js';

/** The code in the sign-up mail, or undefined when the mail carries none. */
const codeIn = (raw: string) => /Your code to finish signing up: (\d{6})/.exec(raw)?.[1];

/** Verification-first sign-up called as use cases: no Express app, no HTTP server of the gateway's. */
describe('use case: registration', () => {
  let world: UseCaseWorld;
  before(async () => {
    world = await startWorld();
  });
  after(() => world.close());

  const requested = async (ctx: RequestContext) =>
    (
      await world.deps.db.query<{ identity_id: string | null; details: { existing: boolean } }>(
        `SELECT identity_id, details FROM audit_events WHERE type = 'registration.requested' AND request_id = $1`,
        [ctx.requestId],
      )
    ).rows;

  const isInvalidCode = (err: unknown) =>
    err instanceof AppError && err.code === 'invalid_code' && err.status === 400;

  it('answers the same for a free and a taken address; only the mail tells them apart', async () => {
    const taken = await world.identity();
    const free = uniqueAddress('free');
    const freeCtx = world.context(world.browser());
    const takenCtx = world.context(world.browser());

    const answers = [
      await startRegistration(world.deps, freeCtx, { email: free, password: PASSWORD }),
      await startRegistration(world.deps, takenCtx, { email: taken.email, password: PASSWORD }),
    ];
    assert.deepEqual(answers, [undefined, undefined]);
    assert.equal(freeCtx.session.auth, undefined);
    assert.equal(takenCtx.session.auth, undefined);

    const [freeMail] = world.mail.to(free);
    const [takenMail] = world.mail.to(taken.email);
    assert.match(codeIn(freeMail!.raw) ?? '', /^\d{6}$/);
    assert.equal(codeIn(takenMail!.raw), undefined);
    assert.match(takenMail!.raw, /you already have an account/);

    assert.deepEqual(await requested(freeCtx), [{ identity_id: null, details: { existing: false } }]);
    assert.deepEqual(await requested(takenCtx), [{ identity_id: taken.id, details: { existing: true } }]);
    // Nothing is created before the code comes back.
    assert.equal(await world.deps.kratos.findIdentityByIdentifier(free), undefined);
  });

  it('creates and signs in the identity with the mailed code, its address verified', async () => {
    const email = uniqueAddress('new');
    await startRegistration(world.deps, world.context(world.browser()), { email, password: PASSWORD });
    const code = codeIn(world.mail.to(email)[0]!.raw)!;

    const browser = world.browser();
    await confirmRegistration(world.deps, world.context(browser), { email: email.toUpperCase(), code });

    const auth = browser.session.auth;
    assert.ok(auth);
    assert.equal(auth.kind, 'password');
    assert.ok(auth.kratosToken);
    assert.ok(browser.cookie);
    const identity = await world.deps.kratos.findIdentityByIdentifier(email);
    assert.equal(identity?.id, auth.identityId);
    assert.equal(identity?.emailVerified, true);
    assert.equal((await findProfile(world.deps.db, auth.identityId))?.emailVerified, true);
    const [event] = await world.audit(auth.identityId, 'registration');
    assert.equal(event?.outcome, 'success');
    assert.deepEqual(event?.details, { method: 'password', emailVerified: true });

    // The code is single use.
    await assert.rejects(
      confirmRegistration(world.deps, world.context(world.browser()), { email, code }),
      isInvalidCode,
    );
  });

  it('refuses a taken address with the same invalid_code as a wrong code', async () => {
    const taken = await world.identity();
    await startRegistration(world.deps, world.context(world.browser()), { email: taken.email });
    const free = uniqueAddress('free');
    await startRegistration(world.deps, world.context(world.browser()), { email: free });
    const code = codeIn(world.mail.to(free)[0]!.raw)!;
    const wrong = code === '000000' ? '000001' : '000000';

    const refusals: AppError[] = [];
    for (const attempt of [
      { email: taken.email, code: '123456' },
      { email: free, code: wrong },
    ]) {
      const browser = world.browser();
      await assert.rejects(confirmRegistration(world.deps, world.context(browser), attempt), (err) => {
        refusals.push(err as AppError);
        return isInvalidCode(err);
      });
      assert.equal(browser.session.auth, undefined);
    }
    assert.equal(refusals[0]!.message, refusals[1]!.message);
    // One identity for the taken address still; the free one is not created by a wrong code.
    assert.equal((await world.deps.kratos.findIdentityByIdentifier(taken.email))?.id, taken.id);
    assert.equal(await world.deps.kratos.findIdentityByIdentifier(free), undefined);
  });

  it('drops the pending sign-up after the last wrong guess', async () => {
    const email = uniqueAddress('guess');
    await startRegistration(world.deps, world.context(world.browser()), { email });
    const code = codeIn(world.mail.to(email)[0]!.raw)!;
    const wrong = code === '999999' ? '999998' : '999999';
    for (let i = 0; i < 5; i++) {
      await assert.rejects(
        confirmRegistration(world.deps, world.context(world.browser()), { email, code: wrong }),
        isInvalidCode,
      );
    }
    await assert.rejects(
      confirmRegistration(world.deps, world.context(world.browser()), { email, code }),
      isInvalidCode,
    );
  });

  it('signs a passwordless sign-up in for its first passkey only', async () => {
    const email = uniqueAddress('passkey');
    await startRegistration(world.deps, world.context(world.browser()), { email });
    const code = codeIn(world.mail.to(email)[0]!.raw)!;
    const browser = world.browser();
    await confirmRegistration(world.deps, world.context(browser), { email, code });

    const auth = browser.session.auth!;
    assert.equal(auth.kind, 'registration');
    assert.equal(auth.passkeyEnrollmentRequired, true);
    assert.equal(auth.kratosToken, undefined);
    const identity = await world.deps.kratos.getIdentity(auth.identityId);
    assert.deepEqual(identity?.credentialTypes.includes('password'), false);
    const [event] = await world.audit(auth.identityId, 'registration');
    assert.deepEqual(event?.details, { method: 'passkey' });
  });
});
