import { describe, expect, it } from 'vitest';
import { ChangeLog, EVERYTHING, NOTHING } from '../../src/core/change-log.js';
import { resolveL1Options } from '../../src/core/l1.js';
import { Lru } from '../../src/core/lru.js';
import { toBytes } from '../../src/core/size.js';

const keys = (l: Lru<unknown>) => [...l.keys()].map(([ns, id]) => `${ns}/${id}`);

describe('LRU', () => {
  it('keeps at most maxEntries, evicting the least recently used; a get makes a key the most recent', () => {
    const l = new Lru<number>(3, 1e9);
    l.set('a', '1', 1, 10);
    l.set('a', '2', 2, 10);
    l.set('b', '1', 3, 10);
    expect(keys(l)).toEqual(['b/1', 'a/2', 'a/1']);
    expect(l.get('a', '1')?.value).toBe(1); // now the most recent
    l.set('b', '2', 4, 10);
    expect(keys(l)).toEqual(['b/2', 'a/1', 'b/1']);
    expect(l.peek('a', '2')).toBeUndefined();
    expect(l.evictions).toBe(1);
    expect(l.size).toBe(3);
    expect(l.bytes).toBe(30);
  });

  it('keeps at most maxBytes; an entry larger than maxBytes is not kept and drops the old one', () => {
    const l = new Lru<string>(100, 100);
    l.set('n', 'a', 'A', 40);
    l.set('n', 'b', 'B', 40);
    l.set('n', 'c', 'C', 40); // 120 > 100: a goes
    expect(keys(l)).toEqual(['n/c', 'n/b']);
    expect(l.bytes).toBe(80);
    l.set('n', 'b', 'B2', 70); // replaces b (40 → 70): 110, so c goes
    expect(keys(l)).toEqual(['n/b']);
    expect(l.get('n', 'b')?.value).toBe('B2');
    expect(l.evictions).toBe(2);
    expect(l.set('n', 'b', 'huge', 101)).toBe(false);
    expect(l.peek('n', 'b')).toBeUndefined();
    expect(l.size).toBe(0);
    expect(l.bytes).toBe(0);
  });

  it('the same id in two namespaces are two keys; delete and clear', () => {
    const l = new Lru<number | undefined>(10, 1000);
    l.set('x', 'k', 1, 1);
    l.set('y', 'k', undefined, 1);
    expect(l.get('x', 'k')?.value).toBe(1);
    expect(l.get('y', 'k')).toMatchObject({ value: undefined }); // a node holding undefined: known absent
    expect(l.get('z', 'k')).toBeUndefined();
    expect(l.delete('x', 'k')).toBe(true);
    expect(l.delete('x', 'k')).toBe(false);
    expect(keys(l)).toEqual(['y/k']);
    l.clear();
    expect(keys(l)).toEqual([]);
    expect([l.size, l.bytes]).toEqual([0, 0]);
    l.set('x', 'k', 2, 1);
    expect(keys(l)).toEqual(['x/k']);
  });

  it('eviction order over many keys is least recently used first', () => {
    const l = new Lru<number>(5, 1e9);
    for (let i = 0; i < 5; i++) l.set('n', String(i), i, 1);
    l.get('n', '0');
    l.get('n', '2');
    for (let i = 5; i < 8; i++) l.set('n', String(i), i, 1);
    expect(keys(l)).toEqual(['n/7', 'n/6', 'n/5', 'n/2', 'n/0']);
  });
});

describe('sizes and l1 options', () => {
  it.each([
    [4096, 4096],
    ['4096', 4096],
    ['512KB', 512 * 1024],
    ['64MB', 64 * 1024 ** 2],
    ['64 mb', 64 * 1024 ** 2],
    ['1GB', 1024 ** 3],
    ['1.5KB', 1536],
    ['100B', 100],
  ])('%s is %d bytes', (input, n) => expect(toBytes(input)).toBe(n));

  it.each(['', '64XB', 'lots', '-1MB', '0', 0, -5, Number.NaN, Infinity])('%s is refused in one line naming the option', (bad) => {
    expect(() => toBytes(bad, 'l1.maxBytes')).toThrow(/^l1\.maxBytes .*: use a number of bytes or a size such as '64MB'$/);
  });

  it('the message quotes a bad string', () => {
    expect(() => resolveL1Options({ maxBytes: '64XB' })).toThrow(`l1.maxBytes "64XB": use a number of bytes or a size such as '64MB'`);
  });

  it('defaults, and bad maxEntries, unknown options or a non-object are ConfigErrors', () => {
    expect(resolveL1Options({})).toEqual({ maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 });
    expect(resolveL1Options({ maxEntries: 5, maxBytes: '1KB' })).toEqual({ maxEntries: 5, maxBytes: 1024 });
    expect(() => resolveL1Options({ maxEntries: 0 })).toThrow('l1.maxEntries 0: use a positive integer');
    expect(() => resolveL1Options({ maxEntries: 2.5 })).toThrow('l1.maxEntries 2.5: use a positive integer');
    expect(() => resolveL1Options({ maxEntries: '10' as unknown as number })).toThrow('l1.maxEntries "10": use a positive integer');
    expect(() => resolveL1Options({ maxEntris: 5 } as never)).toThrow('l1: unknown option "maxEntris" (known: maxEntries, maxBytes)');
    expect(() => resolveL1Options(true as never)).toThrow(/^l1 must be an object/);
    try {
      resolveL1Options({ maxBytes: 'x' });
    } catch (e) {
      expect((e as { code: string }).code).toBe('E_CONFIG');
    }
  });
});

describe('change log', () => {
  it('nothing, the keys changed, or everything since an epoch', () => {
    const log = new ChangeLog(4);
    const s0 = log.epoch;
    expect(log.since(s0)).toBe(NOTHING);
    log.bump();
    log.add('a', '1');
    log.add('a', '2');
    const s1 = log.epoch;
    log.bump();
    log.add('b', '1');
    expect(log.since(s1)).toEqual(new Map([['b', new Set(['1'])]]));
    expect(log.since(s0)).toEqual(
      new Map([
        ['b', new Set(['1'])],
        ['a', new Set(['2', '1'])],
      ]),
    );
    log.all();
    expect(log.since(s1)).toBe(EVERYTHING);
    expect(log.since(log.epoch)).toBe(NOTHING);
  });

  it('when the ring no longer reaches back, everything', () => {
    const log = new ChangeLog(3);
    const s0 = log.epoch;
    log.bump();
    log.add('a', '1');
    const s1 = log.epoch;
    log.bump();
    for (const id of ['2', '3', '4']) log.add('a', id); // overwrites a/1 (epoch s1)
    expect(log.since(s0)).toBe(EVERYTHING);
    expect(log.since(s1)).toEqual(new Map([['a', new Set(['4', '3', '2'])]]));
  });
});
