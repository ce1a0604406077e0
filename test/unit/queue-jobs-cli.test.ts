/** The pure parts of the queue, jobs and stats --watch commands (src/cli/jobs.ts, watch.ts). */
import { describe, expect, it } from 'vitest';
import { defaultWatch, drainSummary, renderJob, renderJobList, watchIntervalMs } from '../../src/cli/jobs.js';
import { watchStats } from '../../src/cli/watch.js';
import { toMs } from '../../src/core/duration.js';
import type { JobInfo } from '../../src/core/ports.js';

const job = (over: Partial<JobInfo> = {}): JobInfo => ({
  id: 'j1',
  op: 'title',
  uri: 'https://a.example/',
  state: 'waiting',
  data: { op: 'title', uri: 'https://a.example/', kwargs: {} },
  priority: 0,
  attempts: 0,
  stalls: 0,
  createdAt: 1_000_000,
  ...over,
});

describe('stats --watch arguments', () => {
  it.each([
    [['--watch'], ['--watch', '2s']],
    [['--watch', '--json'], ['--watch', '2s', '--json']],
    [['--json', '--watch'], ['--json', '--watch', '2s']],
    [['--watch', '5s'], ['--watch', '5s']],
    [['--watch=5s'], ['--watch=5s']],
    [['--json'], ['--json']],
    [['--', '--watch'], ['--', '--watch']],
  ])('%j → %j', (argv, want) => expect(defaultWatch(argv)).toEqual(want));

  it('a duration, or a bare number of seconds; at least 250ms', () => {
    expect(watchIntervalMs('2', toMs)).toBe(2000);
    expect(watchIntervalMs('0.5', toMs)).toBe(500);
    expect(watchIntervalMs('750ms', toMs)).toBe(750);
    expect(watchIntervalMs('1m', toMs)).toBe(60_000);
    expect(() => watchIntervalMs('100ms', toMs)).toThrow('--watch must be at least 250ms, got 100ms');
    expect(() => watchIntervalMs('soon', toMs)).toThrow(/--watch "soon" is not a duration/);
  });

  it('one JSON line per snapshot until stopped; a failed fetch is told and the next one tried', async () => {
    const out: string[] = [];
    const diag: string[] = [];
    const stop = new AbortController();
    let n = 0;
    const shown = await watchStats(
      async () => {
        n++;
        if (n === 2) throw new Error('redis://u:secret@h:1 went away');
        if (n === 4) stop.abort();
        return { at: n };
      },
      { intervalMs: 1, json: true, render: () => '', out: { write: (s: string) => (out.push(s), true), once: () => undefined }, diag: (l) => diag.push(l), signal: stop.signal },
    );
    expect(out).toEqual(['{"at":1}\n', '{"at":3}\n']);
    expect(shown).toBe(2);
    expect(diag).toEqual(['stats failed: redis://u:***@h:1 went away (trying again in 0.001s)']);
  });
});

describe('jobs renderings', () => {
  it('escape control characters of the data, keep the layout', () => {
    const evil = job({ uri: 'https://e/\u001b[31mred\nforged', worker: 'w\u0007' });
    const list = renderJobList([evil], 'title', undefined, 2_000_000);
    expect(list).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
    expect(list.split('\n')).toHaveLength(2);
    expect(list).toContain('https://e/\\x1b[31mred\\nforged');
    const shown = renderJob({ ...evil, state: 'completed', attempts: 1, finishedAt: 1_500_000, result: { cbArgs: ['\u001b]0;x\u0007'], deliveryId: 'd1' } }, 2_000_000);
    expect(shown).not.toContain('\u001b');
    expect(shown).toContain('uri         https://e/\\x1b[31mred\\nforged\n');
    expect(shown).toContain('delivered   [\n  "\\u001b]0;x\\u0007"\n] (delivery d1;');
    expect(renderJobList([], 'title', 'failed')).toBe('no failed jobs of title');
  });

  it('drain summaries say what went where', () => {
    const base = { op: 'title', dryRun: false, waiting: 2, delayed: 1, drained: 3, requests: 4, items: ['a', 'b', 'c'], taken: 0, skipped: 0, active: 1 };
    expect(drainSummary(base)).toEqual([
      'drained 3 jobs of title (2 waiting, 1 delayed): 4 requests now in quarantine as DrainedError',
      'bring them back with: backache quarantine replay --op title (or by id, from: backache quarantine list --op title)',
      '1 active job left running',
    ]);
    expect(drainSummary({ ...base, dryRun: true, drained: 0, requests: 0, items: [] })).toEqual([
      'queue drain --dry-run: 3 jobs of title would be drained (2 waiting, 1 delayed); their requests would go to quarantine (DrainedError)',
      '1 active job left running (drain never touches them)',
    ]);
    expect(drainSummary({ ...base, taken: 1, active: 0 })[1]).toBe('1 job was taken by a worker meanwhile: it quarantines it the same way');
  });
});
