/**
 * Key handling for the dashboard as a pure reducer: `(state, action) → { state, effects }`.
 * Effects are descriptions (pause, resume, count-replay, replay, refresh, quit); the App
 * performs them (see effects.ts) and feeds the results back as actions: `replay-ready`
 * for the y/n question, `effect-done` for the status line, which goes after `STATUS_MS`
 * (`status-expired`) or with the next key.
 */

/** A key press, independent of Ink (see `keyFromInk`). */
export interface KeyPress {
  /** The typed character(s); '' for special keys. */
  input: string;
  name?: 'up' | 'down' | 'pageup' | 'pagedown' | 'home' | 'end' | 'enter' | 'escape' | 'backspace' | 'tab';
  ctrl?: boolean;
}

/** What the reducer needs to know about an operation (from the latest snapshot). */
export interface OpRef {
  op: string;
  paused: boolean;
  quarantined: number;
}

export type Tone = 'info' | 'ok' | 'warn' | 'error';

export interface Status {
  text: string;
  tone: Tone;
  /** An action still running ("replaying…"): its result replaces it; it neither expires nor goes with a key. */
  pending?: boolean;
}

/** How long the result of an action stays on the status line (it also goes with the next key). */
export const STATUS_MS = 5000;

export interface UiState {
  /** Operations in display order, from the latest snapshot. */
  ops: OpRef[];
  filter: string;
  /** The selected operation's name (kept by name across refreshes). */
  selected?: string;
  view: 'list' | 'detail';
  mode: 'normal' | 'filter' | 'confirm';
  /** The pending y/n question, with the quarantine items it counted (y replays exactly those). */
  confirm?: { op: string; count: number; ids: string[] };
  help: boolean;
  status?: Status;
  quitting: boolean;
}

export type Effect =
  | { type: 'pause'; op: string }
  | { type: 'resume'; op: string }
  /** List the ids of the operation's quarantine, for the y/n question (answered by `replay-ready`). */
  | { type: 'count-replay'; op: string }
  /** Replay these quarantine items (the ones the question counted). */
  | { type: 'replay'; op: string; ids: string[] }
  /** Fetch a snapshot now (the view changed). */
  | { type: 'refresh' }
  | { type: 'quit' };

export type Action =
  | { type: 'key'; key: KeyPress }
  | { type: 'ops'; ops: OpRef[] }
  | { type: 'effect-done'; effect: Effect; ok: boolean; text: string; replayed?: number }
  /** The ids the y/n question will count. */
  | { type: 'replay-ready'; op: string; ids: string[] }
  /** A status line's time is up (the App's timer): it goes if it is still the one shown. */
  | { type: 'status-expired'; status: Status };

export interface Result {
  state: UiState;
  effects: Effect[];
}

export const initialState = (o: Partial<UiState> = {}): UiState => ({
  ops: [],
  filter: '',
  view: 'list',
  mode: 'normal',
  help: false,
  quitting: false,
  ...o,
});

/** Operations shown under the current filter (case-insensitive substring of the name). */
export function visibleOps(s: Pick<UiState, 'ops' | 'filter'>): OpRef[] {
  if (!s.filter) return s.ops;
  const f = s.filter.toLowerCase();
  return s.ops.filter((o) => o.op.toLowerCase().includes(f));
}

/** Index of the selected operation among the visible ones, -1 when none. */
export function selectedIndex(s: UiState): number {
  return visibleOps(s).findIndex((o) => o.op === s.selected);
}

const PAGE = 10;

const none = (state: UiState): Result => ({ state, effects: [] });

/** Keep the selection on a visible operation (the first one when it vanished or is filtered out). */
function fixSelection(s: UiState): UiState {
  const vis = visibleOps(s);
  if (s.selected !== undefined && vis.some((o) => o.op === s.selected)) return s;
  // In the detail view the operation stays selected even if a filter hides it.
  if (s.view === 'detail' && s.selected !== undefined && s.ops.some((o) => o.op === s.selected)) return s;
  return { ...s, selected: vis[0]?.op };
}

function move(s: UiState, delta: number | 'first' | 'last'): Result {
  const vis = visibleOps(s);
  if (vis.length === 0) return none(s);
  const i = selectedIndex(s);
  const next = delta === 'first' ? 0 : delta === 'last' ? vis.length - 1 : Math.min(vis.length - 1, Math.max(0, (i < 0 ? 0 : i) + delta));
  const op = vis[next]!.op;
  if (op === s.selected) return none(s);
  // In the detail view moving switches the detailed operation: fetch its detail now.
  return { state: { ...s, selected: op }, effects: s.view === 'detail' ? [{ type: 'refresh' }] : [] };
}

const selectedOp = (s: UiState) => s.ops.find((o) => o.op === s.selected);

function quit(s: UiState): Result {
  return { state: { ...s, quitting: true }, effects: [{ type: 'quit' }] };
}

function togglePause(s: UiState): Result {
  const o = selectedOp(s);
  if (!o) return none({ ...s, status: { text: 'no operation selected', tone: 'warn' } });
  const type = o.paused ? 'resume' : 'pause';
  return {
    state: { ...s, status: { text: `${type === 'pause' ? 'pausing' : 'resuming'} ${o.op}…`, tone: 'info', pending: true } },
    effects: [{ type, op: o.op }],
  };
}

function askReplay(s: UiState): Result {
  const o = selectedOp(s);
  if (!o) return none({ ...s, status: { text: 'no operation selected', tone: 'warn' } });
  if (o.quarantined === 0) return none({ ...s, status: { text: `nothing in quarantine for ${o.op}`, tone: 'info' } });
  // The question counts the items listed now, and y replays exactly those ids: items that
  // arrive meanwhile are not replayed behind the user's back.
  return { state: { ...s, status: { text: `counting quarantined ${o.op} requests…`, tone: 'info', pending: true } }, effects: [{ type: 'count-replay', op: o.op }] };
}

function onReplayReady(s: UiState, a: Extract<Action, { type: 'replay-ready' }>): Result {
  const counting = s.status?.pending && s.status.text.startsWith('counting') ? undefined : s.status;
  // The user moved on (typing a filter, help, quitting): no question out of the blue.
  if (s.quitting || s.mode !== 'normal' || s.help) return none({ ...s, status: counting });
  if (a.ids.length === 0) return none({ ...s, status: { text: `nothing in quarantine for ${a.op}`, tone: 'info' } });
  return none({ ...s, status: undefined, mode: 'confirm', confirm: { op: a.op, count: a.ids.length, ids: a.ids } });
}

function onFilterKey(s: UiState, k: KeyPress): Result {
  // Keeping a filter fetches at once: the quarantine panel lists the filtered operations' items.
  if (k.name === 'enter') return { state: { ...s, mode: 'normal' }, effects: [{ type: 'refresh' }] };
  if (k.name === 'escape') return none(fixSelection({ ...s, mode: 'normal', filter: '' }));
  if (k.name === 'backspace') return none(fixSelection({ ...s, filter: s.filter.slice(0, -1) }));
  if (k.name || k.ctrl || !k.input) return none(s);
  // Printable text only (a paste may bring several characters).
  const text = k.input.replace(/[\u0000-\u001f\u007f]/g, '');
  if (!text) return none(s);
  return none(fixSelection({ ...s, filter: s.filter + text }));
}

function onConfirmKey(s: UiState, k: KeyPress): Result {
  const c = s.confirm!;
  const base = { ...s, mode: 'normal' as const, confirm: undefined };
  if (!k.name && (k.input === 'y' || k.input === 'Y')) {
    return {
      state: { ...base, status: { text: `replaying ${c.count} quarantined ${c.op} request${c.count === 1 ? '' : 's'}…`, tone: 'info', pending: true } },
      effects: [{ type: 'replay', op: c.op, ids: c.ids }],
    };
  }
  return none({ ...base, status: { text: 'replay cancelled', tone: 'info' } });
}

function onKey(s: UiState, k: KeyPress): Result {
  if (k.ctrl && (k.input === 'c' || k.input === 'd')) return quit(s);
  // The result of the last action goes with the next key (an action still running stays).
  if (s.status && !s.status.pending) s = { ...s, status: undefined };
  if (s.mode === 'filter') return onFilterKey(s, k);
  if (s.mode === 'confirm') return onConfirmKey(s, k);
  if (s.help) {
    if (k.input === 'q' && !k.name) return quit(s);
    if (k.input === '?' || k.name === 'escape' || k.name === 'enter') return none({ ...s, help: false });
    return none(s);
  }
  if (k.name === 'up' || (!k.name && k.input === 'k')) return move(s, -1);
  if (k.name === 'down' || (!k.name && k.input === 'j')) return move(s, 1);
  if (k.name === 'pageup') return move(s, -PAGE);
  if (k.name === 'pagedown') return move(s, PAGE);
  if (k.name === 'home' || (!k.name && k.input === 'g')) return move(s, 'first');
  if (k.name === 'end' || (!k.name && k.input === 'G')) return move(s, 'last');
  if (k.name === 'enter') {
    if (s.view === 'detail' || s.selected === undefined) return none(s);
    return { state: { ...s, view: 'detail' }, effects: [{ type: 'refresh' }] };
  }
  if (k.name === 'escape' || k.name === 'backspace') {
    if (s.view === 'detail') return none(fixSelection({ ...s, view: 'list' }));
    if (s.filter) return none(fixSelection({ ...s, filter: '' }));
    return none(s);
  }
  if (k.name || k.ctrl) return none(s);
  switch (k.input) {
    case 'q':
      return quit(s);
    case '?':
      return none({ ...s, help: true });
    case '/':
      return none({ ...s, view: 'list', mode: 'filter' });
    case 'p':
      return togglePause(s);
    case 'r':
      return askReplay(s);
    default:
      return none(s);
  }
}

function onEffectDone(s: UiState, a: Extract<Action, { type: 'effect-done' }>): Result {
  let ops = s.ops;
  const e = a.effect;
  // Show the new paused state before the next snapshot confirms it.
  if (a.ok && (e.type === 'pause' || e.type === 'resume')) ops = ops.map((o) => (o.op === e.op ? { ...o, paused: e.type === 'pause' } : o));
  if (a.ok && e.type === 'replay') ops = ops.map((o) => (o.op === e.op ? { ...o, quarantined: Math.max(0, o.quarantined - (a.replayed ?? e.ids.length)) } : o));
  return none({ ...s, ops, status: { text: a.text, tone: a.ok ? 'ok' : 'error' } });
}

export function reduce(s: UiState, a: Action): Result {
  switch (a.type) {
    case 'key':
      if (s.quitting) return none(s);
      return onKey(s, a.key);
    case 'ops':
      return none(fixSelection({ ...s, ops: a.ops }));
    case 'effect-done':
      return onEffectDone(s, a);
    case 'replay-ready':
      return onReplayReady(s, a);
    case 'status-expired':
      return none(s.status === a.status ? { ...s, status: undefined } : s);
  }
}

/** Ink's `useInput(input, key)` as a `KeyPress`. */
export function keyFromInk(
  input: string,
  key: { upArrow?: boolean; downArrow?: boolean; pageUp?: boolean; pageDown?: boolean; home?: boolean; end?: boolean; return?: boolean; escape?: boolean; backspace?: boolean; delete?: boolean; tab?: boolean; ctrl?: boolean },
): KeyPress {
  const ctrl = !!key.ctrl;
  if (key.upArrow) return { input: '', name: 'up' };
  if (key.downArrow) return { input: '', name: 'down' };
  if (key.pageUp) return { input: '', name: 'pageup' };
  if (key.pageDown) return { input: '', name: 'pagedown' };
  if (key.home) return { input: '', name: 'home' };
  if (key.end) return { input: '', name: 'end' };
  if (key.return) return { input: '', name: 'enter' };
  if (key.escape) return { input: '', name: 'escape' };
  // Terminals send DEL (0x7f) for Backspace, which Ink reports as `delete`.
  if (key.backspace || key.delete) return { input: '', name: 'backspace' };
  if (key.tab) return { input: '', name: 'tab' };
  return ctrl ? { input, ctrl } : { input };
}

/** One character of a multi-character chunk as a key press. */
function charKey(c: string): KeyPress {
  if (c === '\r' || c === '\n') return { input: '', name: 'enter' };
  if (c === '\x7f' || c === '\b') return { input: '', name: 'backspace' };
  if (c === '\t') return { input: '', name: 'tab' };
  if (c === '\x1b') return { input: '', name: 'escape' };
  const code = c.charCodeAt(0);
  if (code < 0x20) return { input: String.fromCharCode(code + 96), ctrl: true };
  return { input: c };
}

/**
 * Ink delivers a run of plain characters typed or sent together ("/ti", "\ry") as one
 * input: split it into one key press per character, so each key counts.
 */
export function keysFromInk(input: string, key: Parameters<typeof keyFromInk>[1]): KeyPress[] {
  const k = keyFromInk(input, key);
  const chars = [...input];
  if (k.name || k.ctrl || chars.length <= 1) return [k];
  return chars.map(charKey);
}
