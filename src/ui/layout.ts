/**
 * Fitting the dashboard to the terminal: which table columns fit a width (lowest priority
 * dropped first), and how many rows each section gets for a height. Pure functions.
 */

export type ColumnId = 'op' | 'waiting' | 'active' | 'delayed' | 'done' | 'fail' | 'quar' | 'hit' | 'coal' | 'p50' | 'p95' | 'trend';

interface ColumnSpec {
  id: ColumnId;
  title: string;
  /** Minimum width; `max` > `min` means the column grows with spare width. */
  min: number;
  max?: number;
  /** Higher stays longer when the terminal is narrow. */
  priority: number;
  align: 'left' | 'right';
}

export interface Column {
  id: ColumnId;
  title: string;
  width: number;
  align: 'left' | 'right';
}

/** In display order. */
const SPECS: ColumnSpec[] = [
  { id: 'op', title: 'OPERATION', min: 10, max: 28, priority: 100, align: 'left' },
  { id: 'waiting', title: 'WAIT', min: 6, priority: 95, align: 'right' },
  { id: 'active', title: 'ACT', min: 5, priority: 90, align: 'right' },
  { id: 'delayed', title: 'DELAY', min: 6, priority: 55, align: 'right' },
  { id: 'done', title: 'DONE/s', min: 6, priority: 85, align: 'right' },
  { id: 'fail', title: 'FAIL/s', min: 6, priority: 84, align: 'right' },
  { id: 'quar', title: 'QUAR', min: 6, priority: 83, align: 'right' },
  { id: 'hit', title: 'HIT%', min: 5, priority: 70, align: 'right' },
  { id: 'coal', title: 'COAL', min: 6, priority: 40, align: 'right' },
  { id: 'p50', title: 'P50', min: 6, priority: 45, align: 'right' },
  { id: 'p95', title: 'P95', min: 6, priority: 60, align: 'right' },
  { id: 'trend', title: 'LAST 60s', min: 10, max: 60, priority: 65, align: 'left' },
];

/** Width of the selection marker ("> ") before the first column. */
export const MARKER_WIDTH = 2;
const GAP = 1;

const total = (cols: { width: number }[]) => MARKER_WIDTH + cols.reduce((n, c) => n + c.width, 0) + GAP * Math.max(0, cols.length - 1);

/** The columns that fit `width`, with the operation name and the sparkline taking spare room. */
export function chooseColumns(width: number): Column[] {
  let specs = [...SPECS];
  const widthOf = (s: ColumnSpec[]) => total(s.map((c) => ({ width: c.min })));
  while (specs.length > 1 && widthOf(specs) > width) {
    const lowest = specs.reduce((a, b) => (b.priority < a.priority ? b : a));
    specs = specs.filter((s) => s !== lowest);
  }
  const cols: Column[] = specs.map((s) => ({ id: s.id, title: s.title, width: s.min, align: s.align }));
  let spare = Math.max(0, width - total(cols));
  // Spare room goes first to names (up to 20), then to the sparkline, then to names again.
  for (const [id, upTo] of [['op', 20], ['trend', 60], ['op', 28]] as const) {
    const c = cols.find((x) => x.id === id);
    if (!c || spare <= 0) continue;
    const add = Math.min(spare, Math.max(0, upTo - c.width));
    c.width += add;
    spare -= add;
  }
  if (cols.length === 1) cols[0]!.width = Math.max(1, width - MARKER_WIDTH);
  return cols;
}

export interface RowPlan {
  /** Operation rows (excluding the table's title row). */
  ops: number;
  workers: number;
  quarantine: number;
}

/**
 * Rows per section of the main view for a terminal `height`: header (2), table title (1),
 * the workers and quarantine titles (1 each) and the status line (1) are fixed; operations
 * come first, then workers and quarantine share what is left.
 */
export function planRows(height: number, want: { ops: number; workers: number; quarantine: number }): RowPlan {
  const free = Math.max(0, height - 6);
  const wMin = Math.min(want.workers, 2);
  const qMin = Math.min(want.quarantine, 2);
  const ops = Math.min(Math.max(1, want.ops), Math.max(3, free - wMin - qMin));
  const rest = Math.max(0, free - ops);
  let quarantine = Math.min(want.quarantine, Math.max(rest - want.workers, Math.floor(rest / 2)));
  const workers = Math.min(want.workers, rest - quarantine);
  quarantine = Math.min(want.quarantine, rest - workers);
  return { ops, workers, quarantine };
}

/** The slice of `count` rows to show in `rows` lines so that `selected` is visible. */
export function windowAround(count: number, rows: number, selected: number): { start: number; end: number } {
  if (count <= rows) return { start: 0, end: count };
  const half = Math.floor(rows / 2);
  const start = Math.min(Math.max(0, selected - half), count - rows);
  return { start, end: start + rows };
}
