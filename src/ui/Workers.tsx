import { Box, Text } from 'ink';
import type { WorkerInfo } from '../core/ports.js';
import { fmtAge, fmtCount, padLeft, padRight, printable } from './format.js';
import { colors, STALE_HEARTBEAT_MS } from './theme.js';

export interface WorkersProps {
  workers: WorkerInfo[];
  /** Lines available for worker rows (the title takes one more). */
  rows: number;
  width: number;
  now: number;
}

/** Live workers: host, pid, concurrency, jobs done, last heartbeat age, operations. */
export function Workers({ workers, rows, width, now }: WorkersProps) {
  const sorted = [...workers].sort((a, b) => a.host.localeCompare(b.host) || a.pid - b.pid);
  const shown = sorted.slice(0, Math.max(0, rows));
  const hostW = Math.min(24, Math.max(4, ...shown.map((w) => w.host.length)));
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate">
        <Text bold>WORKERS</Text>
        {workers.length ? <Text> {workers.length} alive</Text> : <Text color={colors.warn}> none alive: start `backache work`</Text>}
        {shown.length < workers.length ? <Text dimColor> (showing {shown.length})</Text> : null}
      </Text>
      {shown.map((w) => {
        const age = now - w.lastSeen;
        const stale = age > STALE_HEARTBEAT_MS;
        return (
          <Text key={w.id} wrap="truncate">
            {'  '}
            {padRight(printable(w.host), hostW)}
            <Text dimColor> pid </Text>
            {padRight(String(w.pid), 7)}
            <Text dimColor>conc </Text>
            {padRight(String(w.concurrency), 4)}
            <Text dimColor>done </Text>
            {padRight(fmtCount(w.processed), 7)}
            <Text dimColor>beat </Text>
            <Text color={stale ? colors.warn : undefined}>{padLeft(fmtAge(age), 3)} ago</Text>
            <Text dimColor>  ops </Text>
            {printable(w.ops.join(','))}
          </Text>
        );
      })}
    </Box>
  );
}
