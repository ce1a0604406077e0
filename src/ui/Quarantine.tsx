import { Box, Text } from 'ink';
import { fmtAge, fmtCount, padLeft, printable } from './format.js';
import type { QuarantineGroup } from './snapshot.js';
import { colors } from './theme.js';

export interface QuarantineProps {
  /** Latest items grouped by error message, newest first. */
  groups: QuarantineGroup[];
  /** Items in quarantine over all operations. */
  total: number;
  /** Lines available for groups (the title takes one more). */
  rows: number;
  width: number;
  now: number;
  /** The `/` filter, when one narrows the panel to some operations. */
  filter?: string;
}

/** The latest quarantine entries grouped by error message. */
export function Quarantine({ groups, total, rows, width, now, filter }: QuarantineProps) {
  const shown = groups.slice(0, Math.max(0, rows));
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate">
        <Text bold>QUARANTINE</Text>
        {total ? <Text color={colors.failure}> {fmtCount(total)} items</Text> : <Text color={colors.ok}> empty</Text>}
        {filter ? <Text color={colors.accent}> of /{printable(filter)}</Text> : null}
        {total ? <Text dimColor> · latest by error{shown.length < groups.length ? ` (showing ${shown.length} of ${groups.length})` : ''}</Text> : null}
      </Text>
      {shown.map((g) => (
        <Text key={g.message} wrap="truncate">
          {'  '}
          <Text color={colors.failure}>{padLeft(`×${fmtCount(g.count)}`, 5)}</Text>
          <Text dimColor> {padLeft(fmtAge(now - g.lastFailedAt), 3)} </Text>
          <Text dimColor>{printable(g.ops.join(','))} </Text>
          <Text color={colors.failure}>{printable(g.message)}</Text>
          <Text dimColor> {printable(g.uri)}</Text>
        </Text>
      ))}
    </Box>
  );
}
