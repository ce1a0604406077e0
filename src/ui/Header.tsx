import { Box, Text } from 'ink';
import type { Stats } from '../core/stats.js';
import { maskUrl } from '../core/url.js';
import { fmtCount, printable } from './format.js';
import { colors } from './theme.js';

export interface HeaderProps {
  stats?: Stats;
  width: number;
}

/** Two lines: where the data lives (URLs masked), then workers alive and totals. */
export function Header({ stats, width }: HeaderProps) {
  if (!stats) {
    return (
      <Box flexDirection="column" width={width}>
        <Text wrap="truncate">
          <Text bold>backache top</Text>
          <Text dimColor> connecting…</Text>
        </Text>
        <Text> </Text>
      </Box>
    );
  }
  const broker = printable(maskUrl(stats.broker));
  const cache = printable(maskUrl(stats.cache));
  const t = stats.totals;
  const paused = stats.ops.filter((o) => o.paused).length;
  const sep = <Text dimColor> · </Text>;
  // Short labels in narrow terminals, so every total fits in 80 columns.
  const wide = width >= 110;
  const L = wide
    ? { waiting: 'waiting', active: 'active', delayed: 'delayed', quarantined: 'quarantined', failed: 'failed', done: 'done', entries: 'entries' }
    : { waiting: 'wait', active: 'act', delayed: 'dly', quarantined: 'quar', failed: 'fail', done: 'done', entries: 'ent' };
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate">
        <Text bold>backache top</Text>
        <Text dimColor>  broker </Text>
        <Text>{broker}</Text>
        <Text dimColor>  cache </Text>
        <Text>{cache === broker ? 'same' : cache}</Text>
      </Text>
      <Text wrap="truncate">
        <Text color={stats.workers.length ? colors.ok : colors.warn}>workers {stats.workers.length}</Text>
        {sep}
        <Text>
          {L.waiting} {fmtCount(t.waiting)}
        </Text>
        {sep}
        <Text color={t.active ? colors.busy : undefined}>
          {L.active} {fmtCount(t.active)}
        </Text>
        {sep}
        <Text color={t.delayed ? colors.warn : undefined}>
          {L.delayed} {fmtCount(t.delayed)}
        </Text>
        {sep}
        <Text color={t.quarantined ? colors.failure : undefined}>
          {L.quarantined} {fmtCount(t.quarantined)}
        </Text>
        {sep}
        <Text color={t.failed ? colors.failure : undefined}>
          {L.failed} {fmtCount(t.failed)}
        </Text>
        {sep}
        <Text>
          {L.done} {fmtCount(t.completed)}
        </Text>
        {sep}
        <Text>
          {L.entries} {fmtCount(t.entries)}
        </Text>
        {paused ? (
          <>
            {sep}
            <Text color={colors.warn}>paused {paused}</Text>
          </>
        ) : null}
      </Text>
    </Box>
  );
}
