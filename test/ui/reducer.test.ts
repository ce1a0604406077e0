/**
 * The dashboard's key handling as a table of transitions (asynq's key_event_test.go):
 * a starting state, the keys pressed, the state and the effects that follow.
 */
import { describe, expect, it } from 'vitest';
import { initialState, keyFromInk, keysFromInk, reduce, visibleOps, type Action, type Effect, type KeyPress, type OpRef, type UiState } from '../../src/ui/reducer.js';

const OPS: OpRef[] = [
  { op: 'crawl', paused: false, quarantined: 0 },
  { op: 'thumbnail', paused: true, quarantined: 0 },
  { op: 'title', paused: false, quarantined: 3 },
  { op: 'upper', paused: false, quarantined: 1 },
];

/** 'j', '<up>', '<enter>', '<esc>', '<bs>', '<pgdn>', '<c-c>'. */
function key(k: string): KeyPress {
  const names: Record<string, KeyPress['name']> = {
    '<up>': 'up',
    '<down>': 'down',
    '<pgup>': 'pageup',
    '<pgdn>': 'pagedown',
    '<home>': 'home',
    '<end>': 'end',
    '<enter>': 'enter',
    '<esc>': 'escape',
    '<bs>': 'backspace',
  };
  if (names[k]) return { input: '', name: names[k] };
  const ctrl = /^<c-(.)>$/.exec(k);
  if (ctrl) return { input: ctrl[1]!, ctrl: true };
  return { input: k };
}

const start = (o: Partial<UiState> = {}) => initialState({ ops: OPS, selected: 'crawl', ...o });

/** The y/n question open over `n` listed items. */
const ids = (n: number) => Array.from({ length: n }, (_, i) => `q${i + 1}`);
const asking = (op: string, n: number): Partial<UiState> => ({ mode: 'confirm', confirm: { op, count: n, ids: ids(n) } });

function press(s: UiState, keys: string[]) {
  const effects: Effect[] = [];
  for (const k of keys) {
    const r = reduce(s, { type: 'key', key: key(k) });
    s = r.state;
    effects.push(...r.effects);
  }
  return { state: s, effects };
}

interface Row {
  name: string;
  from?: Partial<UiState>;
  keys: string[];
  expect: Partial<UiState>;
  effects?: Effect[];
}

const table: Row[] = [
  // moving
  { name: 'j moves down', keys: ['j'], expect: { selected: 'thumbnail' } },
  { name: 'down arrow moves down', keys: ['<down>'], expect: { selected: 'thumbnail' } },
  { name: 'k moves up', from: { selected: 'title' }, keys: ['k'], expect: { selected: 'thumbnail' } },
  { name: 'up arrow moves up', from: { selected: 'title' }, keys: ['<up>'], expect: { selected: 'thumbnail' } },
  { name: 'up at the top stays', keys: ['k', '<up>'], expect: { selected: 'crawl' } },
  { name: 'down at the bottom stays', keys: ['j', 'j', 'j', 'j', 'j'], expect: { selected: 'upper' } },
  { name: 'page down clamps to the last', keys: ['<pgdn>'], expect: { selected: 'upper' } },
  { name: 'G and g jump to the ends', keys: ['G'], expect: { selected: 'upper' } },
  { name: 'g jumps to the first', from: { selected: 'upper' }, keys: ['g'], expect: { selected: 'crawl' } },
  { name: 'moving with nothing to show does nothing', from: { ops: [], selected: undefined }, keys: ['j', 'k'], expect: { selected: undefined } },
  // detail
  { name: 'Enter opens the detail and fetches it', keys: ['j', '<enter>'], expect: { view: 'detail', selected: 'thumbnail' }, effects: [{ type: 'refresh' }] },
  { name: 'Esc goes back from the detail', from: { view: 'detail' }, keys: ['<esc>'], expect: { view: 'list', selected: 'crawl' } },
  { name: 'j in the detail switches the operation and fetches it', from: { view: 'detail' }, keys: ['j'], expect: { view: 'detail', selected: 'thumbnail' }, effects: [{ type: 'refresh' }] },
  { name: 'Enter without a selection stays', from: { ops: [], selected: undefined }, keys: ['<enter>'], expect: { view: 'list' } },
  // pause / resume
  { name: 'p pauses a running operation', keys: ['p'], expect: { status: { text: 'pausing crawl…', tone: 'info' } }, effects: [{ type: 'pause', op: 'crawl' }] },
  { name: 'p resumes a paused operation', from: { selected: 'thumbnail' }, keys: ['p'], expect: { status: { text: 'resuming thumbnail…', tone: 'info' } }, effects: [{ type: 'resume', op: 'thumbnail' }] },
  { name: 'p in the detail view acts on that operation', from: { view: 'detail', selected: 'title' }, keys: ['p'], expect: { view: 'detail' }, effects: [{ type: 'pause', op: 'title' }] },
  { name: 'p without a selection explains', from: { ops: [], selected: undefined }, keys: ['p'], expect: { status: { text: 'no operation selected', tone: 'warn' } }, effects: [] },
  // replay with confirmation
  { name: 'r lists the items to ask about', from: { selected: 'title' }, keys: ['r'], expect: { mode: 'normal', status: { text: 'counting quarantined title requests…', tone: 'info', pending: true } }, effects: [{ type: 'count-replay', op: 'title' }] },
  { name: 'y replays the ids the question counted', from: { selected: 'title', ...asking('title', 3) }, keys: ['y'], expect: { mode: 'normal', confirm: undefined, status: { text: 'replaying 3 quarantined title requests…', tone: 'info' } }, effects: [{ type: 'replay', op: 'title', ids: ['q1', 'q2', 'q3'] }] },
  { name: 'Y replays', from: { selected: 'upper', ...asking('upper', 1) }, keys: ['Y'], expect: { mode: 'normal', status: { text: 'replaying 1 quarantined upper request…', tone: 'info' } }, effects: [{ type: 'replay', op: 'upper', ids: ['q1'] }] },
  { name: 'n cancels', from: { selected: 'title', ...asking('title', 3) }, keys: ['n'], expect: { mode: 'normal', confirm: undefined, status: { text: 'replay cancelled', tone: 'info' } }, effects: [] },
  { name: 'Esc cancels', from: { selected: 'title', ...asking('title', 3) }, keys: ['<esc>'], expect: { mode: 'normal', status: { text: 'replay cancelled', tone: 'info' } }, effects: [] },
  { name: 'q at the question cancels and does not quit', from: { selected: 'title', ...asking('title', 3) }, keys: ['q'], expect: { mode: 'normal', quitting: false }, effects: [] },
  { name: 'r with an empty quarantine says so', keys: ['r'], expect: { mode: 'normal', status: { text: 'nothing in quarantine for crawl', tone: 'info' } }, effects: [] },
  // filter
  { name: '/ enters filter mode', keys: ['/'], expect: { mode: 'filter', filter: '' } },
  { name: 'typing filters and selects the first match', keys: ['/', 't', 'i'], expect: { mode: 'filter', filter: 'ti', selected: 'title' } },
  { name: 'typed q and p are text while filtering', keys: ['/', 'u', 'p'], expect: { mode: 'filter', filter: 'up', selected: 'upper', quitting: false }, effects: [] },
  { name: 'backspace deletes a filter character', keys: ['/', 't', 'h', '<bs>'], expect: { filter: 't', selected: 'thumbnail' } },
  { name: 'Enter keeps the filter and leaves filter mode', keys: ['/', 'u', '<enter>'], expect: { mode: 'normal', filter: 'u', selected: 'thumbnail' } },
  { name: 'Esc clears the filter and leaves filter mode', keys: ['/', 'u', '<esc>'], expect: { mode: 'normal', filter: '', selected: 'thumbnail' } },
  { name: 'Esc in the list clears a kept filter', from: { filter: 'up', selected: 'upper' }, keys: ['<esc>'], expect: { filter: '', selected: 'upper' } },
  { name: 'moving stays within the filtered operations', from: { filter: 't', selected: 'thumbnail' }, keys: ['j', 'j'], expect: { selected: 'title' } },
  { name: 'a filter matching nothing leaves no selection', keys: ['/', 'z', 'z'], expect: { filter: 'zz', selected: undefined } },
  { name: 'filter is case-insensitive', keys: ['/', 'T', 'I', 'T'], expect: { filter: 'TIT', selected: 'title' } },
  { name: '/ from the detail returns to the list', from: { view: 'detail' }, keys: ['/'], expect: { view: 'list', mode: 'filter' } },
  // help
  { name: '? shows help', keys: ['?'], expect: { help: true } },
  { name: '? again hides help', keys: ['?', '?'], expect: { help: false } },
  { name: 'Esc hides help', keys: ['?', '<esc>'], expect: { help: false } },
  { name: 'keys other than ? Esc q do nothing in help', keys: ['?', 'j', 'p', 'r'], expect: { help: true, selected: 'crawl', mode: 'normal' }, effects: [] },
  // quit
  { name: 'q quits', keys: ['q'], expect: { quitting: true }, effects: [{ type: 'quit' }] },
  { name: 'q quits from help', keys: ['?', 'q'], expect: { quitting: true }, effects: [{ type: 'quit' }] },
  { name: 'q quits from the detail', from: { view: 'detail' }, keys: ['q'], expect: { quitting: true }, effects: [{ type: 'quit' }] },
  { name: 'Ctrl-C quits even while filtering', keys: ['/', '<c-c>'], expect: { quitting: true }, effects: [{ type: 'quit' }] },
  { name: 'keys after quitting are ignored', keys: ['q', 'j', 'p'], expect: { quitting: true, selected: 'crawl' }, effects: [{ type: 'quit' }] },
  // anything else
  { name: 'unknown keys do nothing', keys: ['x', '<home>', '<end>'], expect: { selected: 'upper', mode: 'normal' }, effects: [] },
];

describe('reducer: key → state transitions', () => {
  it.each(table)('$name', ({ from, keys, expect: want, effects }) => {
    const r = press(start(from), keys);
    expect(r.state).toMatchObject(want);
    for (const [k, v] of Object.entries(want)) if (v === undefined) expect(r.state[k as keyof UiState]).toBeUndefined();
    if (effects) expect(r.effects).toEqual(effects);
  });
});

interface ActionRow {
  name: string;
  from?: Partial<UiState>;
  action: Action;
  expect: Partial<UiState>;
}

const actions: ActionRow[] = [
  {
    name: 'a snapshot keeps the selection by name when rows move',
    from: { selected: 'title' },
    action: { type: 'ops', ops: [{ op: 'aaa', paused: false, quarantined: 0 }, ...OPS] },
    expect: { selected: 'title' },
  },
  { name: 'the first snapshot selects the first operation', from: { ops: [], selected: undefined }, action: { type: 'ops', ops: OPS }, expect: { selected: 'crawl' } },
  { name: 'a vanished selection moves to the first operation', from: { selected: 'gone' }, action: { type: 'ops', ops: OPS }, expect: { selected: 'crawl' } },
  {
    name: 'a pause that succeeded shows as paused at once',
    action: { type: 'effect-done', effect: { type: 'pause', op: 'crawl' }, ok: true, text: 'paused crawl' },
    expect: { status: { text: 'paused crawl', tone: 'ok' }, ops: [{ ...OPS[0]!, paused: true }, ...OPS.slice(1)] },
  },
  {
    name: 'a failed action is an error in the status line',
    action: { type: 'effect-done', effect: { type: 'resume', op: 'thumbnail' }, ok: false, text: 'resume thumbnail failed: boom' },
    expect: { status: { text: 'resume thumbnail failed: boom', tone: 'error' }, ops: OPS },
  },
  {
    name: 'a replay that succeeded empties the count',
    action: { type: 'effect-done', effect: { type: 'replay', op: 'title', ids: ids(3) }, ok: true, text: 'replayed 3', replayed: 3 },
    expect: { status: { text: 'replayed 3', tone: 'ok' }, ops: OPS.map((o) => (o.op === 'title' ? { ...o, quarantined: 0 } : o)) },
  },
];

describe('reducer: other actions', () => {
  it.each(actions)('$name', ({ from, action, expect: want }) => {
    const r = reduce(start(from), action);
    expect(r.state).toMatchObject(want);
    expect(r.effects).toEqual([]);
  });

  it('a paused op resumes on the second p once the pause is done', () => {
    let s = start();
    s = reduce(s, { type: 'key', key: key('p') }).state;
    s = reduce(s, { type: 'effect-done', effect: { type: 'pause', op: 'crawl' }, ok: true, text: 'paused crawl' }).state;
    expect(reduce(s, { type: 'key', key: key('p') }).effects).toEqual([{ type: 'resume', op: 'crawl' }]);
  });

  it('replay empties the count, so r again says there is nothing to replay', () => {
    let s = start({ selected: 'title' });
    s = reduce(s, { type: 'effect-done', effect: { type: 'replay', op: 'title', ids: ids(3) }, ok: true, text: 'replayed 3', replayed: 3 }).state;
    expect(press(s, ['r']).state.status?.text).toBe('nothing in quarantine for title');
  });

  it('visibleOps filters by a case-insensitive substring', () => {
    expect(visibleOps({ ops: OPS, filter: 'T' }).map((o) => o.op)).toEqual(['thumbnail', 'title']);
    expect(visibleOps({ ops: OPS, filter: '' })).toBe(OPS);
  });
});

describe('keyFromInk', () => {
  const none = {};
  it.each([
    ['j', none, { input: 'j' }],
    ['', { upArrow: true }, { input: '', name: 'up' }],
    ['', { downArrow: true }, { input: '', name: 'down' }],
    ['', { return: true }, { input: '', name: 'enter' }],
    ['', { escape: true }, { input: '', name: 'escape' }],
    ['', { delete: true }, { input: '', name: 'backspace' }],
    ['', { backspace: true }, { input: '', name: 'backspace' }],
    ['', { pageDown: true }, { input: '', name: 'pagedown' }],
    ['c', { ctrl: true }, { input: 'c', ctrl: true }],
  ] as const)('%j %j', (input, k, want) => {
    expect(keyFromInk(input, k)).toEqual(want);
  });
});

describe('keysFromInk', () => {
  it('splits a chunk of characters sent together into one key per character', () => {
    expect(keysFromInk('/ti', {})).toEqual([{ input: '/' }, { input: 't' }, { input: 'i' }]);
    expect(keysFromInk('\r?', {})).toEqual([{ input: '', name: 'enter' }, { input: '?' }]);
    expect(keysFromInk('a\x7f\x03', {})).toEqual([{ input: 'a' }, { input: '', name: 'backspace' }, { input: 'c', ctrl: true }]);
    expect(keysFromInk('', { return: true })).toEqual([{ input: '', name: 'enter' }]);
    expect(keysFromInk('q', {})).toEqual([{ input: 'q' }]);
  });

  it('r then y in one chunk: the y comes before the question and replays nothing', () => {
    let s = start({ selected: 'title' });
    const effects: Effect[] = [];
    for (const k of keysFromInk('ry', {})) {
      const r = reduce(s, { type: 'key', key: k });
      s = r.state;
      effects.push(...r.effects);
    }
    expect(effects).toEqual([{ type: 'count-replay', op: 'title' }]);
    expect(s.mode).toBe('normal');
  });
});

describe('reducer: the replay question counts what y replays (issue 15, defect 7)', () => {
  it('the listed ids open the question, with their count, even when the snapshot counted otherwise', () => {
    let s = start({ selected: 'title' }); // the snapshot says 3
    s = press(s, ['r']).state;
    const r = reduce(s, { type: 'replay-ready', op: 'title', ids: ids(31) });
    expect(r.state).toMatchObject({ mode: 'confirm', confirm: { op: 'title', count: 31, ids: ids(31) }, status: undefined });
    // More items arrive meanwhile (a snapshot says 33): y still replays the 31 counted.
    s = reduce(r.state, { type: 'ops', ops: OPS.map((o) => (o.op === 'title' ? { ...o, quarantined: 33 } : o)) }).state;
    const y = press(s, ['y']);
    expect(y.effects).toEqual([{ type: 'replay', op: 'title', ids: ids(31) }]);
    expect(y.state.status?.text).toBe('replaying 31 quarantined title requests…');
    // The done replay takes the 31 off the count; the 2 newer ones stay.
    const done = reduce(y.state, { type: 'effect-done', effect: y.effects[0]!, ok: true, text: 'replayed 31', replayed: 31 });
    expect(done.state.ops.find((o) => o.op === 'title')?.quarantined).toBe(2);
  });

  it('an empty list says there is nothing; a list arriving after the user moved on asks nothing', () => {
    const s = press(start({ selected: 'title' }), ['r']).state;
    expect(reduce(s, { type: 'replay-ready', op: 'title', ids: [] }).state).toMatchObject({ mode: 'normal', status: { text: 'nothing in quarantine for title' } });
    const typing = press(s, ['/']).state;
    const r = reduce(typing, { type: 'replay-ready', op: 'title', ids: ids(2) });
    expect(r.state.mode).toBe('filter');
    expect(r.state.confirm).toBeUndefined();
    expect(r.state.status).toBeUndefined();
  });
});

describe('reducer: the status line clears (issue 15, defect 7)', () => {
  const done: Action = { type: 'effect-done', effect: { type: 'pause', op: 'crawl' }, ok: true, text: 'paused crawl' };

  it('the result of an action goes with the next key', () => {
    const s = reduce(start(), done).state;
    expect(s.status?.text).toBe('paused crawl');
    expect(press(s, ['j']).state.status).toBeUndefined();
    expect(press(s, ['x']).state.status).toBeUndefined();
    // …and the key still does what it does.
    expect(press(s, ['j']).state.selected).toBe('thumbnail');
  });

  it('and when its time is up, if it is still the one shown', () => {
    const s = reduce(start(), done).state;
    expect(reduce(s, { type: 'status-expired', status: s.status! }).state.status).toBeUndefined();
    const newer = reduce(s, { type: 'effect-done', effect: { type: 'resume', op: 'crawl' }, ok: true, text: 'resumed crawl' }).state;
    expect(reduce(newer, { type: 'status-expired', status: s.status! }).state.status?.text).toBe('resumed crawl');
  });

  it('an action still running stays until its result replaces it', () => {
    const s = press(start(), ['p']).state;
    expect(s.status).toMatchObject({ text: 'pausing crawl…', pending: true });
    expect(press(s, ['j']).state.status?.text).toBe('pausing crawl…');
    expect(reduce(s, done).state.status?.text).toBe('paused crawl');
  });
});
