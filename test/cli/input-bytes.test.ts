/**
 * Issue 15, defect 4: input lines that are not valid UTF-8 or hold a NUL byte are bad
 * lines (named by number, the others still read), never URIs. Decoding is per line, so a
 * character split across two chunks of the stream is still valid.
 */
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseLines, parseVarLines, readLines } from '../../src/cli/input.js';
import { cli, ensureBuilt, tempDir, TEST_OPS, writeFiles } from '../helpers/cli.js';

beforeAll(ensureBuilt, 300_000);

const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('readLines and parseLines on bytes', () => {
  it('invalid UTF-8 and NUL bytes are bad lines; a character split across chunks is fine', async () => {
    const all = bytes('a\n', [0xff, 0xfe, 0x41], '\n', 'b', [0], 'c\r\n', 'd\xe9\n', [0xc3], '\n', '{"op":"x","uri":"', [0xed, 0xa0, 0x80], '"}\n', 'e\n');
    // é (c3 a9) and 😀 (f0 9f 98 80) cut in the middle by chunk boundaries.
    const split = [bytes('ok-', [0xc3]), bytes([0xa9], '\n', [0xf0, 0x9f]), bytes([0x98, 0x80], '\n')];
    const stream = Readable.from([all, ...split]);
    const items = await collect(parseLines(readLines(stream), { op: 'x' }));
    expect(items.map((i) => (i.ok ? i.req.uri : i.error.message))).toEqual([
      'a',
      'line 2: not valid UTF-8',
      'line 3: contains a NUL byte',
      'dé',
      'line 5: not valid UTF-8',
      'line 6: not valid UTF-8',
      'e',
      'ok-é',
      '😀',
    ]);
  });

  it('string chunks, CRLF and lone CR across chunks, a line longer than many chunks', async () => {
    const long = 'x'.repeat(100_000);
    const chunks = ['a\r', '\nb\rc', '\r\n', ...long.match(/.{1,1000}/g)!, '\n', 'tail'];
    expect(await collect(readLines(Readable.from(chunks)))).toEqual(['a', 'b', 'c', long, 'tail']);
    expect(await collect(readLines(Readable.from([Buffer.from('one\r\ntwo\r'), Buffer.from('\nthree')])))).toEqual(['one', 'two', 'three']);
  });

  it('template variable lines too', async () => {
    const items = await collect(parseVarLines(readLines(Readable.from([bytes('{"id":"1"}\n{"id":"', [0xff], '"}\n{"id":"\x00"}\n')]))));
    expect(items.map((i) => (i.ok ? i.vars : i.error.message))).toEqual([{ id: '1' }, 'line 2: not valid UTF-8', 'line 3: contains a NUL byte']);
  });
});

describe('through the CLI', () => {
  it('run: bad lines named on stderr, the good ones computed, exit 1; random bytes become no request', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const input = bytes('a\n', [0x80, 0x81], '\n', 'b\x00\n', 'c\n');
    const r = await cli(['run', '--op', 'upper', '-o', 'ops.mjs'], { cwd: dir, input: [input as unknown as string] });
    expect(r.code).toBe(1);
    expect(r.lines().map((l) => l.uri).sort()).toEqual(['a', 'c']);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('line '))).toEqual(['line 2: not valid UTF-8', 'line 3: contains a NUL byte']);

    // 3,000 bytes of noise with a NUL or an invalid byte in every line: nothing is submitted.
    let seed = 42;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256;
    const noise: number[] = [];
    for (let i = 0; i < 3000; i++) noise.push(i % 60 === 59 ? 0x0a : i % 60 === 30 ? (i % 120 === 30 ? 0 : 0xff) : rnd());
    const s = await cli(['submit', '--op', 'upper', '-o', 'ops.mjs', '--json'], { cwd: dir, input: [Buffer.from(noise) as unknown as string] });
    expect(s.code).toBe(1);
    expect(s.json()).toMatchObject({ delegated: 0, hits: 0 });
    expect(s.json().errors).toBe(s.json().read);
    expect(s.stderr).toMatch(/^line \d+: (not valid UTF-8|contains a NUL byte)$/m);
  });
});
