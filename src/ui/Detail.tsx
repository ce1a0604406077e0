import { Box, Text } from 'ink';
import type { OpStats } from '../core/stats.js';
import { fmtAge, fmtCount, fmtMs, fmtPct, fmtRate, padLeft, padRight, printable, sparkline } from './format.js';
import { HISTORY_MS, type Detail as DetailData, type HistoryPoint, type OpRates } from './snapshot.js';
import { colors, stateColor } from './theme.js';

export interface DetailProps {
  op: string;
  /** The operation's stats in the latest snapshot (undefined if it vanished). */
  stats?: OpStats;
  rates?: OpRates;
  history: HistoryPoint[];
  /** Recent jobs and quarantine items; undefined until the first fetch for this view. */
  detail?: DetailData;
  width: number;
  /** Lines available. */
  rows: number;
  now: number;
}

const Num = ({ label, value, color }: { label: string; value: string; color?: string }) => (
  <Text>
    <Text dimColor>{label} </Text>
    <Text color={color}>{value}</Text>
    <Text dimColor>  </Text>
  </Text>
);

/** One operation: all its numbers, its throughput, recent jobs and quarantine items. */
export function Detail({ op, stats: s, rates, history, detail, width, rows, now }: DetailProps) {
  const fixed = 6; // title, 3 number lines, the two list titles
  const listRows = Math.max(0, rows - fixed);
  const loaded = detail && detail.op === op ? detail : undefined;
  const recent = loaded?.recent ?? [];
  const items = loaded?.quarantine ?? [];
  const qRows = Math.min(items.length, Math.max(Math.floor(listRows / 2), listRows - recent.length));
  const jRows = Math.min(recent.length, listRows - qRows);
  const idW = Math.min(24, Math.max(8, ...recent.slice(0, jRows).map((j) => j.id.length)));
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate">
        <Text bold color={colors.accent}>
          {printable(op)}
        </Text>
        {s?.paused ? <Text color={colors.warn}> PAUSED (p resumes)</Text> : null}
        {!s ? <Text color={colors.warn}> not in the latest snapshot</Text> : null}
        <Text dimColor>  Esc back · p pause/resume · r replay quarantine</Text>
      </Text>
      <Text wrap="truncate">
        <Num label="waiting" value={fmtCount(s?.waiting ?? 0)} />
        <Num label="active" value={fmtCount(s?.active ?? 0)} color={s?.active ? colors.busy : undefined} />
        <Num label="delayed" value={fmtCount(s?.delayed ?? 0)} color={s?.delayed ? colors.warn : undefined} />
        <Num label="pending" value={fmtCount(s?.pending ?? 0)} />
        <Num label="entries" value={fmtCount(s?.entries ?? 0)} />
        <Num label="p50" value={fmtMs(s?.p50)} />
        <Num label="p95" value={fmtMs(s?.p95)} />
      </Text>
      <Text wrap="truncate">
        <Num label="done" value={`${fmtCount(s?.completed ?? 0)} (${fmtRate(rates?.completedPerSec)}/s)`} color={rates?.completedPerSec ? colors.ok : undefined} />
        <Num label="failed" value={`${fmtCount(s?.failed ?? 0)} (${fmtRate(rates?.failedPerSec)}/s)`} color={s?.failed ? colors.failure : undefined} />
        <Num label="retried" value={fmtCount(s?.retried ?? 0)} />
        <Num label="quarantined" value={fmtCount(s?.quarantined ?? 0)} color={s?.quarantined ? colors.failure : undefined} />
      </Text>
      <Text wrap="truncate">
        <Num label="hits" value={fmtCount(s?.hits ?? 0)} />
        <Num label="L1" value={fmtCount(s?.l1Hits ?? 0)} />
        <Num label="misses" value={fmtCount(s?.misses ?? 0)} />
        <Num label="stale" value={fmtCount(s?.stale ?? 0)} color={s?.stale ? colors.warn : undefined} />
        <Num label="coalesced" value={fmtCount(s?.coalesced ?? 0)} />
        <Num label="hit ratio" value={fmtPct(s?.hitRatio)} />
        <Text dimColor>60s </Text>
        <Text color={colors.ok}>{sparkline(history, now, HISTORY_MS, Math.max(10, Math.min(60, width - 76)))}</Text>
      </Text>
      <Text wrap="truncate">
        <Text bold>RECENT JOBS</Text>
        {!loaded ? <Text dimColor> loading…</Text> : recent.length ? <Text dimColor> newest first</Text> : <Text dimColor> none</Text>}
      </Text>
      {recent.slice(0, jRows).map((j) => (
        <Text key={j.id} wrap="truncate">
          {'  '}
          <Text dimColor>{padLeft(fmtAge(now - j.at), 3)} </Text>
          <Text color={stateColor(j.state)}>{padRight(j.state, 12)}</Text>
          <Text dimColor>{padRight(j.id, idW)} </Text>
          {printable(j.uri)}
        </Text>
      ))}
      <Text wrap="truncate">
        <Text bold>QUARANTINE</Text>
        {s?.quarantined ? <Text color={colors.failure}> {fmtCount(s.quarantined)} items</Text> : <Text color={colors.ok}> empty</Text>}
        {s?.quarantined ? <Text dimColor> · r replays them</Text> : null}
      </Text>
      {items.slice(0, qRows).map((it) => (
        <Text key={it.id} wrap="truncate">
          {'  '}
          <Text dimColor>{padLeft(fmtAge(now - it.lastFailedAt), 3)} </Text>
          <Text dimColor>×{it.attempts} </Text>
          <Text color={colors.failure}>{printable(it.error?.message ?? '')}</Text>
          <Text dimColor> {printable(it.uri)}</Text>
        </Text>
      ))}
    </Box>
  );
}
