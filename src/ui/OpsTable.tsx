import { Box, Text } from 'ink';
import type { OpStats } from '../core/stats.js';
import { fmtCount, fmtMs, fmtPct, fmtRate, padLeft, padRight, printable, sparkline, truncate } from './format.js';
import { chooseColumns, MARKER_WIDTH, windowAround, type Column, type ColumnId } from './layout.js';
import { HISTORY_MS, type HistoryPoint, type OpRates } from './snapshot.js';
import { colors } from './theme.js';

export interface OpsTableProps {
  /** The operations to list (already filtered), in display order. */
  ops: OpStats[];
  rates: Record<string, OpRates>;
  history: Record<string, HistoryPoint[]>;
  selected?: string;
  width: number;
  /** Lines available for operation rows (the column titles take one more). */
  rows: number;
  now: number;
  /** The active filter, to explain an empty list. */
  filter?: string;
}

interface Cell {
  text: string;
  color?: string;
  dim?: boolean;
}

/** The name, and a paused mark that survives truncation: "name (paused)", or "nam… ‖". */
export function opLabel(op: string, paused: boolean, width: number): string {
  const name = printable(op);
  if (!paused) return name;
  if (name.length + 9 <= width) return `${name} (paused)`;
  return `${truncate(name, width - 2).padEnd(width - 2)} ‖`;
}

function cell(id: ColumnId, o: OpStats, r: OpRates | undefined, history: HistoryPoint[] | undefined, width: number, now: number): Cell {
  switch (id) {
    case 'op':
      return { text: opLabel(o.op, o.paused, width), color: o.paused ? colors.warn : undefined };
    case 'waiting':
      return { text: fmtCount(o.waiting), color: o.paused && o.waiting ? colors.warn : undefined };
    case 'active':
      return { text: fmtCount(o.active), color: o.active ? colors.busy : undefined };
    case 'delayed':
      return { text: fmtCount(o.delayed), color: o.delayed ? colors.warn : undefined };
    case 'done':
      return { text: fmtRate(r?.completedPerSec), color: r?.completedPerSec ? colors.ok : undefined };
    case 'fail':
      return { text: fmtRate(r?.failedPerSec), color: r?.failedPerSec ? colors.failure : undefined };
    case 'quar':
      return { text: fmtCount(o.quarantined), color: o.quarantined ? colors.failure : undefined };
    case 'hit':
      return { text: fmtPct(o.hitRatio) };
    case 'coal':
      return { text: fmtCount(o.coalesced) };
    case 'p50':
      return { text: fmtMs(o.p50) };
    case 'p95':
      return { text: fmtMs(o.p95) };
    case 'trend':
      return { text: sparkline(history ?? [], now, HISTORY_MS, width), color: colors.ok };
  }
}

const fit = (c: Column, text: string) => (c.align === 'right' ? padLeft(text, c.width) : padRight(text, c.width));

/** One row per operation: queue counts, rates, quarantine, cache and run times, sparkline. */
export function OpsTable({ ops, rates, history, selected, width, rows, now, filter }: OpsTableProps) {
  const cols = chooseColumns(width);
  const title = (
    <Text wrap="truncate" bold dimColor>
      {' '.repeat(MARKER_WIDTH)}
      {cols.map((c) => fit(c, c.title)).join(' ')}
    </Text>
  );
  if (ops.length === 0) {
    return (
      <Box flexDirection="column" width={width}>
        {title}
        <Text wrap="truncate" dimColor>
          {filter ? `  no operation matches "${filter}" (Esc clears the filter)` : '  no operations yet: start `backache work` or submit requests'}
        </Text>
      </Box>
    );
  }
  const sel = Math.max(0, ops.findIndex((o) => o.op === selected));
  const shown = Math.max(1, rows);
  // With more operations than lines, the last line says how many are hidden.
  const room = ops.length > shown ? Math.max(1, shown - 1) : shown;
  const { start, end } = windowAround(ops.length, room, sel);
  const hidden = ops.length - (end - start);
  return (
    <Box flexDirection="column" width={width}>
      {title}
      {ops.slice(start, end).map((o) => {
        const isSel = o.op === selected;
        return (
          <Text key={o.op} wrap="truncate">
            <Text bold={isSel} color={isSel ? colors.accent : undefined}>
              {isSel ? '> ' : '  '}
            </Text>
            {cols.map((c, i) => {
              const v = cell(c.id, o, rates[o.op], history[o.op], c.width, now);
              return (
                <Text key={c.id}>
                  {i > 0 ? ' ' : ''}
                  <Text color={v.color} bold={isSel && c.id === 'op'} inverse={isSel && c.id === 'op'}>
                    {fit(c, v.text)}
                  </Text>
                </Text>
              );
            })}
          </Text>
        );
      })}
      {hidden > 0 ? (
        <Text wrap="truncate" dimColor>
          {`  ${start > 0 ? `↑ ${start} ` : ''}${end < ops.length ? `↓ ${ops.length - end} ` : ''}more of ${ops.length} (j/k scroll, / filter)`}
        </Text>
      ) : null}
    </Box>
  );
}
