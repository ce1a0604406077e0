/**
 * Unit tests of the CLI helpers in src/cli (no subprocess): input parsing, batching,
 * the status line, the result waiter, error mapping, rendering, selectors, the worker
 * wrappers, and submitStream against the memory backend.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { batches } from '../../src/cli/batch.js';
import { runDoctor } from '../../src/cli/doctor.js';
import { describeError } from '../../src/cli/errors.js';
import { parseLine, parseLines, parseVarLines } from '../../src/cli/input.js';
import { loadOperations, parseJsonFlag } from '../../src/cli/operations.js';
import { ago, resultLine, table } from '../../src/cli/output.js';
import { fmtElapsed, fmtRate, formatProgress, StatusLine } from '../../src/cli/progress.js';
import { quarantineSelector } from '../../src/cli/quarantine.js';
import { groupQuarantine, renderQuarantineItem, renderStats } from '../../src/cli/render.js';
import { submitStream } from '../../src/cli/submit.js';
import { ResultWaiter } from '../../src/cli/waiter.js';
import { planWarm } from '../../src/cli/warm.js';
import { debugOperations, formatFailure, withConcurrency, type Failure } from '../../src/cli/worker.js';
import { createBackache, defineOperations } from '../../src/index.js';
import { BackendUnavailableError, ConfigError, QuarantinedError, RetrySignal, UnknownOperationError } from '../../src/core/errors.js';
import { checkStoreUrl } from '../../src/core/health.js';
import type { QuarantineItem } from '../../src/core/ports.js';
import { tempDir } from '../helpers/cli.js';

const collect = async <T>(it: AsyncIterable<T>) => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};

describe('input', () => {
  it('plain lines (trimmed, blanks skipped, CRLF), JSON lines, quoted URIs, with line numbers', async () => {
    const lines = ['  a  ', '', '{"op":"x","uri":"b","cbArgs":{"c":1},"kwargs":{"k":2}}', '"  spaced  "', 'c\r', '[1]', '{"uri":"d"}', '{"op":"y","uri":"e","kwargs":{"z":1}}'];
    const items = await collect(parseLines(lines, { op: 'def', cbArgs: 'cb', kwargs: { base: true } }));
    expect(items).toEqual([
      { ok: true, req: { op: 'def', uri: 'a', line: 1, cbArgs: 'cb', kwargs: { base: true } } },
      { ok: true, req: { op: 'x', uri: 'b', line: 3, cbArgs: { c: 1 }, kwargs: { base: true, k: 2 } } },
      { ok: true, req: { op: 'def', uri: '  spaced  ', line: 4, cbArgs: 'cb', kwargs: { base: true } } },
      { ok: true, req: { op: 'def', uri: 'c', line: 5, cbArgs: 'cb', kwargs: { base: true } } },
      { ok: false, error: { line: 6, message: 'line 6: a JSON line must be an object {"op","uri","cbArgs","kwargs"}' } },
      { ok: true, req: { op: 'def', uri: 'd', line: 7, cbArgs: 'cb', kwargs: { base: true } } },
      { ok: true, req: { op: 'y', uri: 'e', line: 8, cbArgs: 'cb', kwargs: { base: true, z: 1 } } },
    ]);
  });

  it('names what is wrong with a line', () => {
    const bad = (text: string, o = {}) => {
      const r = parseLine(text, 9, o);
      return r.ok ? 'ok' : r.error.message;
    };
    expect(bad('{"uri":')).toMatch(/^line 9: not valid JSON \(.+\): \{"uri":$/);
    expect(bad('{"uri":"a"}')).toBe('line 9: no operation: add "op" to the line or pass --op');
    expect(bad('{"op":1,"uri":"a"}')).toBe('line 9: "op" must be a string');
    expect(bad('{"op":"x","uri":""}')).toBe('line 9: "uri" must be a non-empty string');
    expect(bad('{"op":"x","uri":"a","kwargs":[1]}')).toBe('line 9: "kwargs" must be a JSON object');
    expect(bad('https://a')).toBe('line 9: a plain URI needs --op (or write JSON lines {"op","uri"}): https://a');
    expect(bad('"unterminated', { op: 'x' })).toMatch(/^line 9: not a valid JSON string/);
    expect(bad(`${'x'.repeat(100)}`)).toMatch(/: x{57}\.\.\.$/);
    expect(bad('a', { op: 'x', validate: () => 'nope' })).toBe('line 9: nope');
  });

  it('variable lines for templates', async () => {
    const items = await collect(parseVarLines((async function* () {
      yield '{"id":1,"lang":"en"}';
      yield '';
      yield '{"id":{}}';
      yield 'x';
      yield '[1]';
    })()));
    expect(items).toEqual([
      { ok: true, vars: { id: '1', lang: 'en' }, line: 1 },
      { ok: false, error: { line: 3, message: 'line 3: variable "id" must be a string or a number' } },
      { ok: false, error: { line: 4, message: expect.stringMatching(/^line 4: not valid JSON/) } },
      { ok: false, error: { line: 5, message: 'line 5: expected a JSON object of template variables, e.g. {"id":"42"}' } },
    ]);
  });

  it('JSON flags', () => {
    expect(parseJsonFlag('kwargs', '{"a":1}', { object: true })).toEqual({ a: 1 });
    expect(parseJsonFlag('cb-args', '[1,"x"]')).toEqual([1, 'x']);
    expect(parseJsonFlag('kwargs', undefined)).toBeUndefined();
    expect(() => parseJsonFlag('kwargs', '{a:1}')).toThrow(ConfigError);
    expect(() => parseJsonFlag('kwargs', '{a:1}')).toThrow(/^--kwargs is not valid JSON: /);
    expect(() => parseJsonFlag('kwargs', 'null', { object: true })).toThrow('--kwargs must be a JSON object, got null');
  });
});

describe('batches', () => {
  it('full batches from a fast source, and the rest at the end', async () => {
    async function* src() {
      for (let i = 0; i < 7; i++) yield i;
    }
    expect(await collect(batches(src(), 3))).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
  });

  it('a partial batch goes out once its first item waited maxWaitMs (slow producer)', async () => {
    async function* slow() {
      yield 1;
      yield 2;
      await new Promise((r) => setTimeout(r, 300));
      yield 3;
    }
    const seen: number[][] = [];
    for await (const b of batches(slow(), 100, 50)) seen.push(b);
    // Without the time limit, 1, 2 and 3 would make one batch.
    expect(seen).toEqual([[1, 2], [3]]);
  });
});

describe('status line and progress', () => {
  const fake = (isTTY: boolean, columns = 40) => {
    const writes: string[] = [];
    return { writes, stream: { isTTY, columns, write: (s: string) => void writes.push(s) } };
  };

  it('draws nothing without a TTY, but still prints diagnostics', () => {
    const { writes, stream } = fake(false);
    const s = new StatusLine(stream);
    s.use(() => 'progress');
    s.update();
    s.print('line 3: bad');
    s.stop();
    expect(writes).toEqual(['line 3: bad\n']);
  });

  it('on a TTY: redraws at most once per interval, clears before a diagnostic, truncates to the width', () => {
    const { writes, stream } = fake(true, 20);
    let now = 1000;
    const s = new StatusLine(stream, { now: () => now, timer: false });
    let n = 0;
    s.use(() => `count ${n} ${'x'.repeat(30)}`);
    expect(writes).toEqual(['\r\x1b[2Kcount 0 xxxxxxxxxx…']);
    n = 1;
    now += 50;
    s.update(); // too soon
    expect(writes).toHaveLength(1);
    now += 60;
    s.update();
    expect(writes.at(-1)).toBe('\r\x1b[2Kcount 1 xxxxxxxxxx…');
    s.print('oops');
    expect(writes.slice(-3)).toEqual(['\r\x1b[2K', 'oops\n', '\r\x1b[2Kcount 1 xxxxxxxxxx…']);
    s.stop();
    expect(writes.at(-1)).toBe('\r\x1b[2K');
  });

  it('formats counts, rate and elapsed time', () => {
    expect(formatProgress('submit', [['read', 12345], ['errors', 0]], 5000, 'read')).toBe('submit  12,345 read · 0 errors · 2,469/s · 0:05');
    expect(fmtRate(5, 2000)).toBe('2.5/s');
    expect(fmtRate(5, 0)).toBe('0/s');
    expect(fmtElapsed(3_725_000)).toBe('1:02:05');
  });
});

describe('ResultWaiter', () => {
  it('never waits for more than `limit` at once; add() blocks until there is room; outcomes in completion order', async () => {
    const pending = new Map<string, { resolve: (v: { value: unknown }) => void; reject: (e: unknown) => void }>();
    const results: string[] = [];
    const w = new ResultWaiter(
      (id) => new Promise((resolve, reject) => void pending.set(id, { resolve, reject })),
      (o) => void results.push(o.result ? `${o.result.uri}:${o.result.status}` : `fail:${o.failure}`),
      2,
      (e) => (e instanceof QuarantinedError ? { result: { op: '', uri: '', status: 'quarantined', error: e.message } } : undefined),
    );
    const tick = () => new Promise((r) => setImmediate(r));
    await w.add({ op: 'o', uri: 'u0', jobId: 'j0' });
    await w.add({ op: 'o', uri: 'u1', jobId: 'j1' });
    let thirdAdded = false;
    const third = w.add({ op: 'o', uri: 'u2', jobId: 'j2' }).then(() => (thirdAdded = true));
    await tick();
    expect([thirdAdded, w.inFlight, [...pending.keys()]]).toEqual([false, 2, ['j0', 'j1']]);
    pending.get('j1')!.reject(new QuarantinedError('bad j1', 'q1'));
    await third;
    expect([w.inFlight, [...pending.keys()]]).toEqual([2, ['j0', 'j1', 'j2']]);
    pending.get('j2')!.resolve({ value: 2 });
    pending.get('j0')!.resolve({ value: 0 });
    await w.drain();
    expect(results).toEqual(['u1:quarantined', 'u2:computed', 'u0:computed']);
  });

  it('an unexpected error aborts: drain rejects with it', async () => {
    const w = new ResultWaiter(async () => {
      throw new BackendUnavailableError('redis gone');
    }, () => {});
    await w.add({ op: 'o', uri: 'u', jobId: 'j' });
    await expect(w.drain()).rejects.toThrow('redis gone');
  });
});

describe('describeError', () => {
  it('maps errors to exit codes and one masked line (+ hint); the stack only when verbose', () => {
    const d = describeError(new BackendUnavailableError('cannot connect to redis://u:pw@h:1', { hint: 'start redis://x:y@h' }));
    expect(d.exitCode).toBe(3);
    expect(d.text).toBe('backache: cannot connect to redis://u:***@h:1\n  hint: start redis://x:***@h\n');
    expect(describeError(new UnknownOperationError('x', ['a', 'b'])).text).toBe('backache: unknown operation "x"; known operations: a, b\n');
    expect(describeError(new UnknownOperationError('x', [])).exitCode).toBe(2);
    const parse = Object.assign(new Error('Nonexistent flag: --nope\nSee more help with --help'), { oclif: { exit: 2 } });
    expect(describeError(parse, { command: 'stats' })).toMatchObject({ exitCode: 2, text: 'backache: unknown flag --nope\n  hint: see backache stats --help\n' });
    const other = describeError(new TypeError('x is not a function'));
    expect(other.exitCode).toBe(1);
    expect(other.text).toBe('backache: x is not a function\n');
    const verbose = describeError(new Error('at redis://a:b@c'), { verbose: true });
    expect(verbose.text).toMatch(/^backache: at redis:\/\/a:\*\*\*@c\nError: at redis:\/\/a:\*\*\*@c\n\s+at /);
    expect(describeError(Object.assign(new Error('EEXIT: 0'), { code: 'EEXIT', oclif: { exit: 0 } }))).toMatchObject({ exitCode: 0, text: '' });
    expect(describeError(new ConfigError('bad', { hint: 'fix' })).json).toEqual({ error: { code: 'E_CONFIG', message: 'bad', exitCode: 2, hint: 'fix' } });
    expect(describeError(new Error('Connection is closed.'))).toMatchObject({ exitCode: 3, json: { error: { code: 'E_BACKEND_UNAVAILABLE' } } });
    expect(describeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' })).exitCode).toBe(3);
  });
});

describe('rendering', () => {
  it('tables align numbers right and text left', () => {
    expect(table([{ a: 'x', n: 5 }, { a: 'long', n: 1234 }], [{ header: 'NAME', get: (r) => r.a }, { header: 'N', get: (r) => r.n }])).toBe('NAME      N\nx         5\nlong  1,234');
    expect(ago(Date.now() - 125_000)).toBe('2m ago');
    expect(resultLine({ op: 'o', uri: 'u', status: 'hit', value: null })).toBe('{"op":"o","uri":"u","status":"hit","value":null}');
    expect(resultLine({ op: 'o', uri: 'u', status: 'quarantined', error: 'e', value: 1 })).toBe('{"op":"o","uri":"u","status":"quarantined","error":"e"}');
  });

  it('stats: a masked broker, one row per operation, the workers', () => {
    const text = renderStats({
      at: 0,
      broker: 'redis://u:pw@h:6379',
      cache: 'redis://u:pw@h:6379',
      workers: [],
      totals: { waiting: 0, active: 0, delayed: 0, quarantined: 0, completed: 0, failed: 0, entries: 0 },
      ops: [{ op: 'title', waiting: 3, active: 1, delayed: 0, paused: false, quarantined: 2, pending: 1, entries: 10, hitRatio: 0.5, p50: 12, p95: 1500, hits: 5, misses: 5, stale: 0, coalesced: 1, completed: 9, failed: 2, retried: 0, l1Hits: 3 }],
    });
    expect(text).not.toContain('pw');
    expect(text).toMatch(/^broker redis:\/\/u:\*\*\*@h:6379\n/);
    expect(text).toMatch(/^OP\s+WAITING\s+ACTIVE\s+DELAYED\s+DONE\s+FAILED\s+QUARANTINED\s+HITS\s+L1 HITS\s+MISSES\s+COALESCED\s+HIT%/m);
    expect(text).toMatch(/title\s+3\s+1\s+0\s+9\s+2\s+2\s+5\s+3\s+5\s+1\s+50\.0%\s+12ms\s+1\.5s\s+10/);
    expect(text).toMatch(/0 workers alive$/);
  });

  it('quarantine: groups by error, biggest first; an item in full', () => {
    const item = (id: string, op: string, msg: string, at: number): QuarantineItem => ({ id, op, uri: `u-${id}`, cbArgs: [], kwargs: {}, error: { name: 'Error', message: msg, stack: `Error: ${msg}\n    at x` }, attempts: 1, firstFailedAt: at, lastFailedAt: at });
    const groups = groupQuarantine([item('1', 'a', 'timeout', 1), item('2', 'b', 'timeout', 5), item('3', 'a', 'gone', 3)]);
    expect(groups).toEqual([
      { error: 'Error: timeout', count: 2, ops: ['a', 'b'], firstFailedAt: 1, lastFailedAt: 5, sample: ['1', '2'] },
      { error: 'Error: gone', count: 1, ops: ['a'], firstFailedAt: 3, lastFailedAt: 3, sample: ['3'] },
    ]);
    expect(renderQuarantineItem({ ...item('9', 'a', 'boom redis://u:pw@h', 0), details: { why: 1 } })).toMatch(/details\s+\{\n\s+"why": 1\n\}\nerror\s+Error: boom redis:\/\/u:\*\*\*@h\n\nError: boom/);
  });
});

describe('selectors and plans', () => {
  it('quarantine selectors: something must be named; --all needs --yes; ids and filters do not mix', () => {
    expect(() => quarantineSelector([], {}, 'replay')).toThrow('say which quarantine items to replay: IDs, --op, --match, --since, or --all');
    expect(() => quarantineSelector([], { all: true }, 'purge')).toThrow(/--all purges every quarantine item: add --yes/);
    expect(quarantineSelector([], { all: true, 'dry-run': true }, 'purge')).toEqual({ all: true });
    expect(() => quarantineSelector(['a'], { op: 'x' }, 'purge')).toThrow(/not both/);
    expect(quarantineSelector(['a', 'b'], {}, 'replay')).toEqual({ ids: ['a', 'b'] });
    const s = quarantineSelector([], { op: 'x', since: '1h', match: 'h*' }, 'replay');
    expect(s).toMatchObject({ op: 'x', match: 'h*' });
    expect(Date.now() - (s.since as number)).toBeGreaterThanOrEqual(3_600_000);
    expect(() => quarantineSelector([], { since: 'soon' }, 'replay')).toThrow(/--since "soon" is neither a duration/);
  });

  it('warm plans', () => {
    expect(planWarm({ vars: {} })).toBe('lines');
    expect(planWarm({ op: 'o', template: 'x/{id}', vars: { id: ['1'] } })).toBe('exact');
    expect(planWarm({ op: 'o', template: 'x/{id}', vars: {} })).toBe('template-lines');
    expect(planWarm({ op: 'o', template: 'x/{id}', vars: {}, cached: true })).toBe('scan');
    expect(planWarm({ op: 'o', match: 'x*', vars: {} })).toBe('scan');
    expect(() => planWarm({ template: 'x/{id}', vars: {} })).toThrow('--template needs --op');
    expect(() => planWarm({ op: 'o', vars: { id: ['1'] } })).toThrow('--var needs --template');
    expect(() => planWarm({ op: 'o', vars: {}, cached: true })).toThrow(/--cached needs --template/);
  });
});

describe('worker wrappers', () => {
  it('withConcurrency overrides every operation; undefined leaves them alone', () => {
    const ops = defineOperations({ a: async () => 1, b: { run: async () => 2, concurrency: 3, ttl: '1h' } });
    expect(withConcurrency(ops, undefined)).toBe(ops);
    const w = withConcurrency(ops, 5) as Record<string, { concurrency: number; ttl?: string }>;
    expect([w.a!.concurrency, w.b!.concurrency, w.b!.ttl]).toEqual([5, 5, '1h']);
  });

  it('debugOperations runs one job at a time across operations and reports failures but not retries', async () => {
    const failures: Failure[] = [];
    let running = 0;
    let peak = 0;
    const body = async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
    };
    const ops = debugOperations(
      {
        a: async () => body(),
        b: { run: async () => body(), concurrency: 8 },
        c: async () => {
          throw new RetrySignal(0);
        },
        d: async () => {
          throw new Error('boom');
        },
      },
      (f) => failures.push(f),
    ) as Record<string, { run: (uri: string, ctx: never) => Promise<unknown>; concurrency: number }>;
    const ctx = { jobId: 'j', attempt: 1, kwargs: { k: 1 } } as never;
    await Promise.all([ops.a!.run('1', ctx), ops.b!.run('2', ctx), ops.a!.run('3', ctx)]);
    expect(peak).toBe(1);
    expect(ops.b!.concurrency).toBe(1);
    await expect(ops.c!.run('x', ctx)).rejects.toBeInstanceOf(RetrySignal);
    await expect(ops.d!.run('y', ctx)).rejects.toThrow('boom');
    expect(failures.map((f) => [f.op, f.uri])).toEqual([['d', 'y']]);
    expect(formatFailure(failures[0]!)).toMatch(/^✗ d failed for y \(job j, attempt 1\)\n {2}kwargs: \{"k":1\}\nError: boom\n\s+at /);
  });
});

describe('operations module loading', () => {
  it('default export, named `operations`, TypeScript, and clear errors', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.mjs'), 'export default { x: async () => 1 };');
    writeFileSync(join(dir, 'b.mjs'), 'export const operations = { y: async () => 2 };');
    writeFileSync(join(dir, 'c.ts'), 'const n: number = 3;\nexport default { z: async (uri: string) => uri.length + n };');
    writeFileSync(join(dir, 'd.cjs'), 'module.exports = { w: async () => 4 };');
    expect(Object.keys((await loadOperations({ path: join(dir, 'a.mjs') })).operations)).toEqual(['x']);
    expect(Object.keys((await loadOperations({ path: join(dir, 'b.mjs') })).operations)).toEqual(['y']);
    const c = (await loadOperations({ path: join(dir, 'c.ts') })).operations as Record<string, (u: string) => Promise<number>>;
    expect(await c.z!('ab')).toBe(5);
    expect(Object.keys((await loadOperations({ path: join(dir, 'd.cjs') })).operations)).toEqual(['w']);
    await expect(loadOperations({ path: join(dir, 'none.ts') })).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/none\.ts not found$/) });
  });
});

describe('submitStream on the memory backend', () => {
  it('hits at once, misses waited for; results as JSON lines; bad lines counted', async () => {
    const app = await createBackache({ operations: { up: async (u: string) => u.toUpperCase(), no: async (_u: string, ctx) => ctx.quarantine() }, broker: `memory:${randomUUID()}` });
    const worker = app.startWorker();
    const out: string[] = [];
    const diag: string[] = [];
    const io = { app, out: { write: (s: string) => (out.push(s), true), once: () => {} }, status: new StatusLine({ write: () => {} }, { enabled: false }), diag: (l: string) => void diag.push(l) };
    try {
      const s1 = await submitStream(io, { input: Readable.from(['a\nb\n{"op":"no","uri":"c"}\n{bad\n']), op: 'up', wait: true, label: 't' });
      expect(s1).toMatchObject({ read: 4, hits: 0, delegated: 3, computed: 2, quarantined: 1, errors: 1 });
      expect(out.map((l) => JSON.parse(l)).sort((x, y) => x.uri.localeCompare(y.uri))).toEqual([
        { op: 'up', uri: 'a', status: 'computed', value: 'A' },
        { op: 'up', uri: 'b', status: 'computed', value: 'B' },
        { op: 'no', uri: 'c', status: 'quarantined', error: 'quarantined by the operation' },
      ]);
      expect(diag).toEqual([expect.stringMatching(/^line 4: not valid JSON/)]);
      out.length = 0;
      const s2 = await submitStream(io, { input: Readable.from(['a\n', 'b\n']), op: 'up', wait: false, label: 't', batchSize: 1 });
      expect(s2).toMatchObject({ read: 2, hits: 2, delegated: 0 });
      expect(out).toEqual([]);
    } finally {
      await worker.stop();
      await app.close();
    }
  });
});

describe('doctor and health checks', () => {
  it('memory: is a warning; an unwritable SQLite directory fails with a fix', async () => {
    const r = await runDoctor({ broker: `memory:${randomUUID()}` }, []);
    expect(r.exitCode).toBe(0);
    expect(r.checks.find((c) => c.name.startsWith('broker'))).toMatchObject({ status: 'warn', message: expect.stringMatching(/in-memory/) });
    if (process.getuid?.() === 0) return; // root writes anywhere
    const dir = tempDir();
    mkdirSync(join(dir, 'ro'));
    chmodSync(join(dir, 'ro'), 0o500);
    const c = await checkStoreUrl('broker', `sqlite:${join(dir, 'ro', 'x', 'b.db')}`, 'p');
    expect(c[0]).toMatchObject({ status: 'fail', exitCode: 2, message: expect.stringMatching(/^no SQLite database at /), hint: expect.stringMatching(/create the directory/) });
  });

  it('a SQLite file that exists: writable and in WAL mode', async () => {
    const dir = tempDir();
    const app = await createBackache({ operations: {}, broker: `sqlite:${join(dir, 'b.db')}` });
    await app.close();
    const c = await checkStoreUrl('broker', `sqlite:${join(dir, 'b.db')}`, 'p');
    expect(c.map((x) => [x.status, x.message])).toEqual([
      ['ok', `file ${join(dir, 'b.db')} is writable`],
      ['ok', 'journal mode WAL (several processes can share the file)'],
    ]);
    const mongo = await checkStoreUrl('broker', 'mongodb://h/db', 'p');
    expect(mongo[0]).toMatchObject({ status: 'fail', exitCode: 2 });
  });
});
