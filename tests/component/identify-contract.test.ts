import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { seedIdentity } from '../helpers/account.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, uniqueEmail } from '../helpers/http.js';

/**
 * The attack: ask `POST /identify` about many addresses and sort them by the answer. An
 * account that signs in only with a passkey used to be the only one answered
 * `methods: ["passkey"]`, a password-only account had no credential ids, and unknown
 * addresses always got fake ids of one length. Now every answer lists the deployment's
 * methods, and the credential ids of unknown addresses (and of accounts without passkeys)
 * are drawn like the real ones: same counts, same lengths, stable per address.
 */
let gw: TestGateway;

/** Passkey ids of the lengths real authenticators make (16, 20, 32 and 64 bytes). */
const ID_BYTES = [16, 20, 32, 64];

interface Answer {
  methods: string[];
  credentialIds: string[];
  passkey: { allowCredentials?: { id: string }[] };
}

async function identify(identifier: string): Promise<Answer> {
  const res = await new Browser(gw.auth).post('/identify', { identifier });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** Gives an identity `count` passkeys as the registration ceremony stores them. */
async function givePasskeys(identityId: string, count: number, seed: number) {
  await gw.deps.db.query('INSERT INTO passkey_users (identity_id, user_handle) VALUES ($1, $2)', [
    identityId,
    randomBytes(32).toString('base64url'),
  ]);
  for (let i = 0; i < count; i++) {
    const id = randomBytes(ID_BYTES[(seed + i) % ID_BYTES.length]!).toString('base64url');
    await gw.deps.db.query(
      'INSERT INTO passkey_credentials (id, identity_id, public_key) VALUES ($1, $2, $3)',
      [id, identityId, randomBytes(77)],
    );
  }
}

/** An identity without any password, as a passwordless sign-up leaves it. */
async function passwordlessIdentity(): Promise<{ id: string; email: string }> {
  const email = uniqueEmail('pkonly');
  const res = await fetch(`${gw.kratos.adminUrl}/admin/identities`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ schema_id: 'default', traits: { email } }),
  });
  assert.equal(res.status, 201);
  return { id: ((await res.json()) as { id: string }).id, email };
}

const groups: Record<'passwordOnly' | 'passkeyOnly' | 'both' | 'unknown', string[]> = {
  passwordOnly: [],
  passkeyOnly: [],
  both: [],
  unknown: [],
};

before(async () => {
  gw = await startTestGateway();
  for (let i = 0; i < 8; i++) {
    groups.passwordOnly.push((await seedIdentity(gw.kratos)).email);
    const pk = await passwordlessIdentity();
    await givePasskeys(pk.id, 1 + (i % 3), i);
    groups.passkeyOnly.push(pk.email);
    const both = await seedIdentity(gw.kratos);
    await givePasskeys(both.id, 1 + ((i + 1) % 3), i + 2);
    groups.both.push(both.email);
  }
  for (let i = 0; i < 60; i++) groups.unknown.push(uniqueEmail('ghost'));
});
after(() => gw.close());

describe('one identify contract for every identifier', () => {
  let answers: Record<keyof typeof groups, Answer[]>;

  before(async () => {
    answers = { passwordOnly: [], passkeyOnly: [], both: [], unknown: [] };
    for (const [group, identifiers] of Object.entries(groups) as [keyof typeof groups, string[]][])
      for (const identifier of identifiers) answers[group].push(await identify(identifier));
  });

  it('lists the same methods, the deployment’s, for accounts of every kind and unknown addresses', () => {
    const methodLists = new Set(
      Object.values(answers).flatMap((a) => a.map((x) => JSON.stringify(x.methods))),
    );
    assert.deepEqual([...methodLists], [JSON.stringify(['passkey', 'password'])]);
  });

  it('offers passkey options with exactly the credential ids of the answer', () => {
    for (const answer of Object.values(answers).flat())
      assert.deepEqual(
        (answer.passkey.allowCredentials ?? []).map((c) => c.id),
        answer.credentialIds,
      );
  });

  it('draws the ids of unknown addresses and password-only accounts like real ones: count and length', () => {
    const real = [...answers.passkeyOnly, ...answers.both];
    const realCounts = real.map((a) => a.credentialIds.length);
    const realLengths = new Set(real.flatMap((a) => a.credentialIds.map((id) => id.length)));
    const share = (counts: number[], n: number) => counts.filter((c) => c === n).length / counts.length;
    for (const group of ['unknown', 'passwordOnly'] as const) {
      const counts = answers[group].map((a) => a.credentialIds.length);
      const lengths = answers[group].flatMap((a) => a.credentialIds.map((id) => id.length));
      assert.ok(
        counts.every((c) => realCounts.includes(c)),
        `${group}: counts ${counts} outside ${realCounts}`,
      );
      assert.ok(
        lengths.every((l) => realLengths.has(l)),
        `${group}: lengths outside ${[...realLengths]}`,
      );
    }
    // Wide bounds (about five standard deviations): the draws are random per gateway secret.
    const decoyCounts = [...answers.unknown, ...answers.passwordOnly].map((a) => a.credentialIds.length);
    for (const n of new Set(realCounts))
      assert.ok(
        Math.abs(share(decoyCounts, n) - share(realCounts, n)) < 0.3,
        `${n} ids in ${share(decoyCounts, n)} of decoy answers, ${share(realCounts, n)} for real accounts`,
      );
    const unknownLengths = new Set(answers.unknown.flatMap((a) => a.credentialIds.map((id) => id.length)));
    assert.ok(unknownLengths.size >= 3, `decoy lengths vary like real ones: ${[...unknownLengths]}`);
  });

  it('answers the same ids again for the same address, and different ids for different ones', async () => {
    for (const identifier of [groups.unknown[0]!, groups.passwordOnly[0]!]) {
      const again = await identify(identifier.toUpperCase());
      const first = (identifier === groups.unknown[0] ? answers.unknown : answers.passwordOnly)[0]!;
      assert.deepEqual(again.credentialIds, first.credentialIds);
    }
    assert.notDeepEqual(answers.unknown[0]!.credentialIds, answers.unknown[1]!.credentialIds);
  });
});
