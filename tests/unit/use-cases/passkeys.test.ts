import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppError } from '../../../gateway/src/errors/app-error.js';
import { identify } from '../../../gateway/src/passkeys/identify.js';
import { withPasskeyOptions } from '../../../gateway/src/passkeys/login.js';
import { listPasskeys, removePasskey, renamePasskey } from '../../../gateway/src/passkeys/management.js';
import { startWorld, uniqueAddress, type UseCaseWorld } from './world.js';

/** Identify and passkey management called as use cases: no Express app, no HTTP server of the gateway's. */
describe('use cases: passkeys', () => {
  let world: UseCaseWorld;
  before(async () => {
    world = await startWorld();
  });
  after(() => world.close());

  describe('identify', () => {
    it('lists the same methods for a known and an unknown identifier', async () => {
      const withPassword = await world.identity();
      const withPasskey = await world.identity();
      const passkeyId = await world.passkey(withPasskey.id);
      const unknown = uniqueAddress('nobody');

      const answers = await Promise.all(
        [withPassword.email, withPasskey.email, unknown].map((identifier) =>
          identify(world.deps, identifier),
        ),
      );
      for (const answer of answers) assert.deepEqual(answer.methods, ['passkey', 'password']);
      // The account's own passkey is offered; the others get decoys shaped like real ids.
      assert.deepEqual(answers[1]!.credentialIds, [passkeyId]);
      for (const decoys of [answers[0]!.credentialIds, answers[2]!.credentialIds]) {
        assert.ok(decoys.length > 0);
        for (const id of decoys) assert.match(id, /^[A-Za-z0-9_-]{43}$/);
        assert.ok(!decoys.includes(passkeyId));
      }
      // Asking again (in any case and spacing) gives the same decoys: nothing to compare.
      assert.deepEqual(await identify(world.deps, ` ${unknown.toUpperCase()} `), answers[2]);
    });

    it('offers decoys, not its passkeys, for an identity that is not active', async () => {
      const email = uniqueAddress('inactive');
      const identity = await world.deps.kratos.createIdentity({ traits: { email }, state: 'inactive' });
      const passkeyId = await world.passkey(identity.id);
      const answer = await identify(world.deps, email);
      assert.deepEqual(answer.methods, ['passkey', 'password']);
      assert.ok(!answer.credentialIds.includes(passkeyId));
    });

    it('binds the passkey request options to the browser, narrowed to the offered ids', async () => {
      const { id, email } = await world.identity();
      const passkeyId = await world.passkey(id);
      const browser = world.browser();
      const answer = await withPasskeyOptions(
        world.deps,
        world.context(browser),
        await identify(world.deps, email),
      );
      assert.deepEqual(
        answer.passkey.allowCredentials?.map((c) => c.id),
        [passkeyId],
      );
      assert.equal(answer.passkey.rpId, world.deps.rp.id);
      // The challenge belongs to this browser's pre-session, which now exists (and has its cookie).
      assert.ok(browser.session.preId);
      assert.ok(browser.cookie);
      assert.equal(browser.session.auth, undefined);
    });
  });

  describe('passkey management', () => {
    const refusedLastCredential = (err: unknown) =>
      err instanceof AppError && err.code === 'last_credential' && err.status === 409;

    it('refuses to delete the last passkey of an identity without a password', async () => {
      const who = await world.identity({ password: null });
      const only = await world.passkey(who.id);
      const ctx = world.context(world.browser());
      await assert.rejects(removePasskey(world.deps, ctx, world.principal(who), only), refusedLastCredential);

      assert.deepEqual(
        (await listPasskeys(world.deps, who.id)).map((p) => p.id),
        [only],
      );
      const [event] = await world.audit(who.id, 'passkey.removed');
      assert.equal(event?.outcome, 'denied');
      assert.deepEqual(event?.details, { passkeyId: only, reason: 'last_credential' });
      assert.equal(event?.requestId, ctx.requestId);
    });

    it('deletes one of two passkeys, but then not the other', async () => {
      const who = await world.identity({ password: null });
      const first = await world.passkey(who.id, 'Phone');
      const second = await world.passkey(who.id, 'Laptop');
      await removePasskey(world.deps, world.context(world.browser()), world.principal(who), first);
      assert.deepEqual(
        (await listPasskeys(world.deps, who.id)).map((p) => p.nickname),
        ['Laptop'],
      );
      const [event] = await world.audit(who.id, 'passkey.removed');
      assert.equal(event?.outcome, 'success');
      await assert.rejects(
        removePasskey(world.deps, world.context(world.browser()), world.principal(who), second),
        refusedLastCredential,
      );
    });

    it('deletes the only passkey of an identity that has a password', async () => {
      const who = await world.identity();
      const only = await world.passkey(who.id);
      await removePasskey(world.deps, world.context(world.browser()), world.principal(who), only);
      assert.deepEqual(await listPasskeys(world.deps, who.id), []);
    });

    it("answers not_found for another identity's passkey, and leaves it alone", async () => {
      const owner = await world.identity();
      const other = await world.identity();
      const theirs = await world.passkey(owner.id);
      const ctx = world.context(world.browser());
      const notFound = (err: unknown) => err instanceof AppError && err.status === 404;
      await assert.rejects(removePasskey(world.deps, ctx, world.principal(other), theirs), notFound);
      await assert.rejects(
        renamePasskey(world.deps, ctx, world.principal(other), theirs, 'Mine now'),
        notFound,
      );
      assert.deepEqual(
        (await listPasskeys(world.deps, owner.id)).map((p) => [p.id, p.nickname]),
        [[theirs, 'Security key']],
      );
    });

    it('renames a passkey and answers its new view', async () => {
      const who = await world.identity();
      const id = await world.passkey(who.id);
      const view = await renamePasskey(
        world.deps,
        world.context(world.browser()),
        world.principal(who),
        id,
        'Blue key',
      );
      assert.equal(view.id, id);
      assert.equal(view.nickname, 'Blue key');
      assert.equal((await listPasskeys(world.deps, who.id))[0]?.nickname, 'Blue key');
      const [event] = await world.audit(who.id, 'passkey.renamed');
      assert.equal(event?.outcome, 'success');
    });
  });
});
