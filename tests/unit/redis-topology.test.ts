import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { keySlot, parseRedisUrl } from '../../gateway/src/redis/client.js';
import { REDIS_SUITES } from '../../scripts/test-redis-topologies.js';
import { FAST_TIERS, tierOf } from '../../scripts/test-tiers.js';
import { repoPath } from '../config/paths.js';

describe('REDIS_URL', () => {
  it('names one server', () => {
    const single = parseRedisUrl('rediss://:s3cret@cache.internal:6380/0');
    assert.equal(single.topology, 'single');
    assert.deepEqual(single.hosts, [{ host: 'cache.internal', port: 6380 }]);
    assert.equal(single.password, 's3cret');
  });

  it('names the sentinels, the master they watch and the data nodes password', () => {
    const sentinel = parseRedisUrl(
      'redis-sentinel://:p%40ss@s1:26379,s2:26380,s3/gateway?replica_ack_ms=250',
    );
    assert.equal(sentinel.topology, 'sentinel');
    assert.deepEqual(sentinel.hosts, [
      { host: 's1', port: 26379 },
      { host: 's2', port: 26380 },
      { host: 's3', port: 6379 },
    ]);
    assert.equal(sentinel.password, 'p@ss');
    assert.equal(sentinel.masterName, 'gateway');
    assert.equal(sentinel.replicaAckMs, 250);
    assert.equal(parseRedisUrl('redis-sentinel://s1:26379').masterName, 'mymaster');
  });

  it('names some nodes of a cluster', () => {
    const cluster = parseRedisUrl('redis-cluster://user:pw@n1:7000,n2:7001');
    assert.equal(cluster.topology, 'cluster');
    assert.equal(cluster.username, 'user');
    assert.equal(cluster.password, 'pw');
    assert.deepEqual(
      cluster.hosts.map((h) => h.port),
      [7000, 7001],
    );
    assert.equal(cluster.replicaAckMs, undefined);
  });

  it('refuses what it cannot read, saying what is wrong and nothing of the URL', () => {
    assert.throws(() => parseRedisUrl('memcached://secret@h:1'), /must be redis:\/\//);
    assert.throws(
      () => parseRedisUrl('redis-cluster://:secret@n1:70000'),
      (err: Error) => {
        assert.match(err.message, /bad port/);
        assert.doesNotMatch(err.message, /secret/);
        return true;
      },
    );
    assert.throws(() => parseRedisUrl('redis-cluster://n1:7000?replica_ack_ms=soon'), /replica_ack_ms/);
  });
});

describe('cluster key slots', () => {
  it('are those Redis computes (CRC16 of the key, or of its hash tag)', () => {
    // Values from the Redis Cluster specification and CLUSTER KEYSLOT.
    assert.equal(keySlot('foo'), 12182);
    assert.equal(keySlot('bar'), 5061);
    assert.equal(keySlot('hello'), 866);
    assert.equal(keySlot('somekey'), 11058);
    assert.equal(keySlot('foo{hash_tag}'), 2515);
    assert.equal(keySlot('123456789'), 0x31c3);
  });

  it('put the keys named after one identity in one slot, whatever comes around the tag', () => {
    const id = '3f2a1c9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b';
    const slot = keySlot(`gw:idx:{${id}}`);
    assert.equal(keySlot(`gw:whoami-idx:{${id}}`), slot);
    assert.equal(keySlot(`other-prefix:identity:{${id}}`), slot);
    assert.equal(keySlot(`{}${id}`), keySlot(`{}${id}`), 'an empty tag hashes the whole key');
    assert.notEqual(keySlot(`{}${id}`), keySlot(`{}${id}x`));
  });
});

describe('the Redis topology tier', () => {
  it('runs suites that exist and that npm test runs on a single server', () => {
    assert.ok(REDIS_SUITES.length > 0);
    for (const file of REDIS_SUITES) {
      assert.ok(existsSync(repoPath(file)), file);
      const tier = tierOf(file);
      assert.ok(tier && FAST_TIERS.includes(tier), `${file} is in a fast tier`);
    }
  });
});
