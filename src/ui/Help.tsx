import { Box, Text } from 'ink';
import { fmtInterval } from './format.js';
import { colors } from './theme.js';

const KEYS: [string, string][] = [
  ['↑ ↓  j k', 'move the selection (PgUp/PgDn, g/G jump)'],
  ['Enter', "open the selected operation: recent jobs and quarantine items"],
  ['Esc', 'back to the list; clear the filter'],
  ['p', "pause or resume the selected operation's queue"],
  ['r', "replay the selected operation's quarantine (asks y/n)"],
  ['/', 'filter operations and quarantine by name (Enter keeps, Esc clears)'],
  ['?', 'show or hide this help'],
  ['q', 'quit'],
];

export interface HelpProps {
  width: number;
  intervalMs: number;
}

/** The key list, and what the colours mean. */
export function Help({ width, intervalMs }: HelpProps) {
  return (
    <Box flexDirection="column" width={width}>
      <Text bold>KEYS</Text>
      {KEYS.map(([k, what]) => (
        <Text key={k} wrap="truncate">
          {'  '}
          <Text color={colors.accent}>{k.padEnd(10)}</Text>
          {what}
        </Text>
      ))}
      <Text> </Text>
      <Text bold>COLOURS</Text>
      <Text wrap="truncate">
        {'  '}
        <Text color={colors.failure}>red</Text> failures and quarantine{'  '}
        <Text color={colors.warn}>yellow</Text> paused, delayed or stale{'  '}
        <Text color={colors.ok}>green</Text> done{'  '}
        <Text color={colors.busy}>cyan</Text> running
      </Text>
      <Text wrap="truncate" dimColor>
        {'  '}Refreshed every {fmtInterval(intervalMs)}. DONE/s and FAIL/s come from counter deltas between refreshes; the sparkline shows DONE/s over the last 60 s.
      </Text>
    </Box>
  );
}
