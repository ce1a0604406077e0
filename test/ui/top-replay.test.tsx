/**
 * `top` (issue 15, defect 7): `r` asks about the items it listed and `y` replays exactly
 * those ids; the status line clears with the next key and after a few seconds; `/` filters
 * the quarantine panel too (drawn from props, and fetched per filtered operation).
 */
import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/ui/App.js';
import { Dashboard } from '../../src/ui/Dashboard.js';
import { initialState, type UiState } from '../../src/ui/reducer.js';
import { applySnapshot, emptyModel, fetchSnapshot, sourceFromApp, type TopApp, type TopSource } from '../../src/ui/snapshot.js';
import { waitUntil } from '../helpers/wait.js';
import { busySnapshot, NOW, opStats, qitem, stats } from './fixtures.js';

// eslint-disable-next-line no-control-regex
const strip = (s: string | undefined) => (s ?? '').replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');

const instances: { unmount(): void }[] = [];
afterEach(() => {
  for (const i of instances.splice(0)) i.unmount();
});

/**
 * An engine whose quarantine grows between the snapshot and the question: stats() says
 * `counted + 2`, the listing finds `counted`, and two more arrive before `y`.
 */
function growingSource(counted: number) {
  let items = Array.from({ length: counted }, (_, i) => `q${i + 1}`);
  const replayed: string[][] = [];
  const source: TopSource = {
    async stats() {
      return stats([opStats('alpha'), opStats('beta', { quarantined: items.length + 2 })], [], { at: Date.now() });
    },
    async quarantine() {
      return [];
    },
    async recentJobs() {
      return [];
    },
    async pause() {},
    async resume() {},
    async quarantineIds() {
      const now = [...items];
      items = [...items, 'late-1', 'late-2']; // failures arriving while the question is open
      return now;
    },
    async replay(ids) {
      replayed.push(ids);
      const gone = new Set(ids);
      const n = items.filter((id) => gone.has(id)).length;
      items = items.filter((id) => !gone.has(id));
      return n;
    },
  };
  return { source, replayed, left: () => items };
}

function start(source: TopSource, statusMs?: number) {
  const r = render(<App source={source} intervalMs={250} statusMs={statusMs} />);
  instances.push(r);
  const frame = () => strip(r.lastFrame());
  const key = async (k: string) => {
    r.stdin.write(k);
    await new Promise((res) => setTimeout(res, 20));
  };
  return { frame, key };
}

describe('r replays what the question counted', () => {
  it('asks about the 31 items it listed (not the snapshot count) and replays those 31 ids', async () => {
    const f = growingSource(31);
    const { frame, key } = start(f.source);
    await waitUntil(() => frame().includes('> alpha'), 'first snapshot');
    await key('j');
    await waitUntil(() => frame().includes('> beta'), 'beta selected');
    await key('r');
    await waitUntil(() => frame().includes('Replay 31 quarantined beta requests? [y/N]'), 'the question with the listed count');
    await key('y');
    await waitUntil(() => frame().includes('replayed 31 quarantined beta requests'), 'the replay reported');
    expect(f.replayed).toEqual([Array.from({ length: 31 }, (_, i) => `q${i + 1}`)]);
    expect(f.left()).toEqual(['late-1', 'late-2']);
  });

  it('items replayed elsewhere meanwhile are reported as such', async () => {
    const f = growingSource(3);
    const source = { ...f.source, replay: async (ids: string[]) => (f.replayed.push(ids), ids.length - 1) };
    const { frame, key } = start(source);
    await waitUntil(() => frame().includes('> alpha'), 'first snapshot');
    await key('j');
    await key('r');
    await waitUntil(() => frame().includes('Replay 3 quarantined beta requests?'), 'the question');
    await key('y');
    await waitUntil(() => frame().includes('replayed 2 of 3 quarantined beta requests (1 no longer in quarantine)'), 'the partial replay reported');
  });
});

describe('the status line clears', () => {
  it('with the next key', async () => {
    const f = growingSource(2);
    const { frame, key } = start(f.source, 60_000);
    await waitUntil(() => frame().includes('> alpha'), 'first snapshot');
    await key('p');
    await waitUntil(() => frame().includes('paused alpha'), 'the pause reported');
    await key('j');
    await waitUntil(() => !frame().includes('paused alpha'), 'the status gone with the next key');
    expect(frame()).toContain('> beta');
  });

  it('after its time is up', async () => {
    const f = growingSource(2);
    const { frame, key } = start(f.source, 300);
    await waitUntil(() => frame().includes('> alpha'), 'first snapshot');
    await key('p');
    await waitUntil(() => frame().includes('paused alpha'), 'the pause reported');
    await waitUntil(() => !frame().includes('paused alpha'), 'the status gone by itself');
    expect(frame()).toContain('updated');
  });
});

describe('/ filters the quarantine panel', () => {
  const model = () => {
    let m = applySnapshot(emptyModel(), busySnapshot(NOW - 1000, 0.99), NOW - 1000);
    m = applySnapshot(m, busySnapshot(NOW), NOW);
    return m;
  };
  const ui = (o: Partial<UiState>) => initialState({ ops: model().snapshot!.stats.ops.map((x) => ({ op: x.op, paused: x.paused, quarantined: x.quarantined })), ...o });
  const draw = (o: Partial<UiState>) => {
    const r = render(<Dashboard model={model()} ui={ui(o)} width={100} height={30} intervalMs={1000} now={NOW} />);
    instances.push(r);
    return strip(r.lastFrame());
  };

  it('shows only the items of the operations the filter shows, and their count', () => {
    const all = draw({ selected: 'crawl' });
    expect(all).toMatch(/QUARANTINE 7 items/);
    expect(all).toContain('HTTP 503 from origin');
    expect(all).toContain('line one');

    const crawl = draw({ filter: 'cra', selected: 'crawl' });
    expect(crawl).toMatch(/QUARANTINE empty of \/cra/); // crawl's stats count none…
    expect(crawl).toContain('line one'); // …but its latest item is listed
    expect(crawl).not.toContain('HTTP 503 from origin');

    const title = draw({ filter: 'tit', selected: 'title' });
    expect(title).toMatch(/QUARANTINE 7 items of \/tit/);
    expect(title).toContain('HTTP 503 from origin');
    expect(title).not.toContain('line one');

    expect(draw({ filter: 'zz' })).toMatch(/QUARANTINE empty of \/zz/);
  });

  it('the fetch lists the latest items of each filtered operation, newest first', async () => {
    const calls: string[] = [];
    const app: TopApp = {
      stats: async () => stats([opStats('a'), opStats('b')]),
      recentJobs: async () => [],
      pause: async () => {},
      resume: async () => {},
      quarantine: {
        list: async (o) => (calls.push(`list ${o.op ?? '*'} ${o.limit}`), { items: [qitem(o.op === 'a' ? 1 : 2, { op: o.op, lastFailedAt: o.op === 'a' ? 10 : 20 })] }),
        replay: async () => ({ replayed: 0 }),
      },
    };
    const s = await fetchSnapshot(sourceFromApp(app), { quarantineOps: ['a', 'b'] });
    expect(calls.sort()).toEqual(['list a 50', 'list b 50']);
    expect(s.quarantine.map((q) => q.op)).toEqual(['b', 'a']);
    calls.length = 0;
    expect((await fetchSnapshot(sourceFromApp(app), { quarantineOps: [] })).quarantine).toEqual([]);
    expect(calls).toEqual([]);
  });

  it("the question's ids are every item of the operation, page by page; no ids replay nothing", async () => {
    const pages: Record<string, { items: ReturnType<typeof qitem>[]; cursor?: string }> = {
      start: { items: [qitem(1), qitem(2)], cursor: 'p2' },
      p2: { items: [qitem(3)] },
    };
    const replays: unknown[] = [];
    const app: TopApp = {
      stats: async () => stats([]),
      recentJobs: async () => [],
      pause: async () => {},
      resume: async () => {},
      quarantine: {
        list: async (o) => pages[o.cursor ?? 'start']!,
        replay: async (sel) => (replays.push(sel), { replayed: sel.ids.length }),
      },
    };
    const source = sourceFromApp(app);
    expect(await source.quarantineIds('title')).toEqual(['q1', 'q2', 'q3']);
    expect(await source.replay([])).toBe(0);
    expect(replays).toEqual([]);
    expect(await source.replay(['q1', 'q3'])).toBe(2);
    expect(replays).toEqual([{ ids: ['q1', 'q3'] }]);
  });
});
