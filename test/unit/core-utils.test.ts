import { describe, expect, it } from 'vitest';
import { toMs } from '../../src/core/duration.js';
import { makeEntry, toJsonValue } from '../../src/core/entry.js';
import { expandTemplate, globMatcher, parseVars, templateMatcher } from '../../src/core/template.js';
import { maskText, maskUrl } from '../../src/core/url.js';
import { normalizeOperations } from '../../src/core/operations.js';

describe('durations', () => {
  it.each([
    [500, 500],
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1.5s', 1500],
    ['250', 250],
  ])('%s is %d ms', (input, ms) => expect(toMs(input)).toBe(ms));

  it.each(['', 'soon', '1y', '-1s', -5, Number.NaN])('%s is rejected with a hint', (bad) => {
    expect(() => toMs(bad as string)).toThrow(/duration|non-negative/);
  });
});

describe('key templates', () => {
  it('expands bound placeholders as a cartesian product', () => {
    expect(expandTemplate('https://x/users/{id}/feed', { id: ['1', '2'] })).toEqual({ uris: ['https://x/users/1/feed', 'https://x/users/2/feed'], bound: true });
    expect(expandTemplate('{a}-{b}', { a: ['1', '2'], b: 'x' }).uris).toEqual(['1-x', '2-x']);
    expect(expandTemplate('https://x/{id}', {})).toEqual({ uris: [], bound: false });
  });

  it('rejects vars the template does not have', () => {
    expect(() => expandTemplate('https://x/{id}', { nope: '1' })).toThrow('--var nope: the template has no {nope} placeholder (it has {id})');
  });

  it('unbound placeholders match one or more characters other than /, with the literal prefix', () => {
    const m = templateMatcher('https://x/users/{id}/feed');
    expect(m.prefix).toBe('https://x/users/');
    expect(m.test('https://x/users/12/feed')).toBe(true);
    expect(m.test('https://x/users//feed')).toBe(false);
    expect(m.test('https://x/users/1/2/feed')).toBe(false);
    expect(m.test('https://x/users/1/feed/more')).toBe(false);
    const partly = templateMatcher('https://{host}/users/{id}', { id: '5' });
    expect(partly.prefix).toBe('https://');
    expect(partly.test('https://a.com/users/5')).toBe(true);
    expect(partly.test('https://a.com/users/6')).toBe(false);
    expect(templateMatcher('a.b+c{x}').test('a.b+cz')).toBe(true);
    expect(templateMatcher('a.b+c{x}').test('aXb+cz')).toBe(false);
  });

  it('globs: * any run, ? one character, literal prefix before the first wildcard', () => {
    const g = globMatcher('https://x/*/feed?');
    expect(g.prefix).toBe('https://x/');
    expect(g.test('https://x/a/b/feed1')).toBe(true);
    expect(g.test('https://x/a/feed')).toBe(false);
    expect(globMatcher('plain').test('plain')).toBe(true);
  });

  it('parses --var pairs, repeated names accumulate', () => {
    expect(parseVars(['id=1', 'id=2', 'q=a=b'])).toEqual({ id: ['1', '2'], q: ['a=b'] });
    expect(() => parseVars(['novalue'])).toThrow('--var "novalue" must be name=value');
  });
});

describe('URLs', () => {
  it('masks passwords, keeps users and hosts', () => {
    expect(maskUrl('redis://user:secret@host:6379/0')).toBe('redis://user:***@host:6379/0');
    expect(maskUrl('redis://:secret@host')).toBe('redis://:***@host');
    expect(maskUrl('sqlite:.backache/backache.db')).toBe('sqlite:.backache/backache.db');
    expect(maskText('connect to rediss://u:p%40ss@h:1 failed')).toBe('connect to rediss://u:***@h:1 failed');
  });
});

describe('entries and JSON values', () => {
  it('ttl and grace make expiresAt and staleUntil', () => {
    expect(makeEntry(1, 1000, null, null)).toEqual({ value: 1, createdAt: 1000, expiresAt: null, staleUntil: null });
    expect(makeEntry(1, 1000, 10, 5, 'u')).toEqual({ value: 1, createdAt: 1000, expiresAt: 1010, staleUntil: 1015, uri: 'u' });
    expect(makeEntry(1, 1000, 10, null).staleUntil).toBeNull();
  });

  it('says what cannot be stored', () => {
    expect(toJsonValue({ a: new Date(0) })).toEqual({ a: '1970-01-01T00:00:00.000Z' });
    expect(() => toJsonValue(undefined)).toThrow('the value is undefined');
    expect(() => toJsonValue({ f() {} })).toThrow('f is a function');
    expect(() => toJsonValue({ n: 1n })).toThrow('n is a BigInt');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => toJsonValue(cyclic)).toThrow(/circular/i);
  });
});

describe('operation definitions', () => {
  it('accepts bare functions and specs, and says what is wrong with a bad one', () => {
    const ops = normalizeOperations({ a: async (u) => u, b: { run: async () => 1, ttl: '1h', grace: 0, retries: 2, backoff: { type: 'exponential', delay: '1s' } } });
    expect(ops.get('a')!.ttlMs(1)).toBeNull();
    expect(ops.get('b')!.ttlMs(1)).toBe(3_600_000);
    expect(ops.get('b')!.graceMs).toBe(0);
    expect([1, 2, 3].map((n) => ops.get('b')!.backoffMs(n))).toEqual([1000, 2000, 4000]);
    expect(() => normalizeOperations({ 'bad name': async () => 1 })).toThrow(/may only contain/);
    expect(() => normalizeOperations({ x: { ttl: '1h' } as never })).toThrow('operation "x" must be a function or an object with a run function');
    expect(() => normalizeOperations({ x: { run: async () => 1, ttl: 'soon' } })).toThrow('operation "x" ttl "soon" is not a duration');
  });
});
