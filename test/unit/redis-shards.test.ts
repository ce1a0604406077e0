import calculateSlot from 'cluster-key-slot';
import { describe, expect, it } from 'vitest';
import { RedisKeys } from '../../src/core/backends/redis/keys.js';
import { shardOf } from '../../src/core/backends/redis/shards.js';
import { hashId } from '../../src/core/hash.js';
import { normalizeOperations } from '../../src/core/operations.js';

describe('redis shard layouts', () => {
  it('n tags per operation, one in each n-th of the slot space, the same in every process', () => {
    for (const n of [2, 3, 6, 16, 64]) {
      const keys = new RedisKeys('backache');
      const tags = keys.layouts.tagsAt('thumbnail', n);
      expect(tags).toHaveLength(n);
      expect(new Set(tags).size).toBe(n);
      tags.forEach((t, s) => {
        expect(t).toMatch(/^\{backache:thumbnail~\d+\}$/);
        const slot = calculateSlot(t);
        expect(slot).toBeGreaterThanOrEqual((s * 16384) / n);
        expect(slot).toBeLessThan(((s + 1) * 16384) / n);
      });
      expect(new RedisKeys('backache').layouts.tagsAt('thumbnail', n)).toEqual(tags);
    }
  });

  it('a pair always lands on one shard; URIs spread over all of them', () => {
    const keys = new RedisKeys('p');
    keys.layouts.set('op', 6, [1, 6]);
    const seen = new Map<string, number>();
    for (let i = 0; i < 6000; i++) {
      const hash = hashId(`https://example.com/${i}`);
      const tag = keys.placeOf({ ns: 'op', id: `https://example.com/${i}` }, hash);
      expect(keys.placeOf({ ns: 'op', id: `https://example.com/${i}` }, hash)).toBe(tag);
      expect(tag).toBe(keys.layouts.tagsAt('op', 6)[shardOf(hash, 6)]);
      seen.set(tag, (seen.get(tag) ?? 0) + 1);
    }
    expect(seen.size).toBe(6);
    for (const n of seen.values()) expect(n).toBeGreaterThan(800); // 1,000 expected each
  });

  it('every layout an operation had stays known: tags to drain and scan, places to invalidate', () => {
    const keys = new RedisKeys('p');
    keys.layouts.set('op', 6, [3]);
    expect(keys.layouts.layouts('op')).toEqual([1, 3, 6]);
    const all = keys.layouts.tagsOf('op');
    expect(all[0]).toBe('{p:op}');
    expect(new Set(all)).toEqual(new Set(['{p:op}', ...keys.layouts.tagsAt('op', 3), ...keys.layouts.tagsAt('op', 6)]));
    const hash = hashId('u');
    const places = keys.layouts.tagsFor('op', hash);
    expect(places[0]).toBe(keys.layouts.tagFor('op', hash, 6));
    expect(places).toContain(keys.layouts.tagFor('op', hash, 3));
    expect(places).toContain('{p:op}');
    // Plain namespaces keep today's single tag.
    expect(keys.layouts.tagsOf('plain')).toEqual(['{p:plain}']);
    expect(keys.placeOf({ ns: 'plain', id: 'u' }, hash)).toBe('{p:plain}');
  });

  it('a job keeps the place it was queued at; a place of another namespace is refused', () => {
    const keys = new RedisKeys('p');
    keys.layouts.set('op', 3);
    const old = keys.layouts.tagsAt('op', 3)[1]!;
    keys.layouts.set('op', 6, [3]);
    expect(keys.placeOf({ ns: 'op', id: 'u', place: old }, hashId('u'))).toBe(old);
    expect(() => keys.placeOf({ ns: 'op', id: 'u', place: '{p:other~1}' }, hashId('u'))).toThrow(/not a tag of namespace op/);
    expect(() => keys.placeOf({ ns: 'op', id: 'u', place: '{p:op~x}' }, hashId('u'))).toThrow(/not a tag/);
  });

  it('shard keys belong to the deployment for cleanup; another prefix never does', () => {
    const keys = new RedisKeys('p');
    expect(keys.ownsKey('{p:op~12}:c:e:abc', 'c')).toBe(true);
    expect(keys.ownsKey('{p:op~12}:jobs:wait', 'jobs')).toBe(true);
    expect(keys.ownsKey('{p:op~x}:c:e:abc', 'c')).toBe(false);
    expect(new RedisKeys('p:op').ownsKey('{p:op~12}:c:e:abc', 'c')).toBe(false);
  });

  it('shards is an integer from 1 to 64', () => {
    expect(normalizeOperations({ a: { run: async () => 1, shards: 6 } }).get('a')!.shards).toBe(6);
    expect(normalizeOperations({ a: async () => 1 }).get('a')!.shards).toBe(1);
    for (const bad of [0, 65, 2.5, -1]) {
      expect(() => normalizeOperations({ a: { run: async () => 1, shards: bad } })).toThrow(/operation "a" shards must be an integer from 1 to 64/);
    }
  });
});
