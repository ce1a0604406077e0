import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import { fmtAge, fmtInterval, printable } from './format.js';
import type { UiState } from './reducer.js';
import { colors, toneColor } from './theme.js';

export interface StatusLineProps {
  ui: Pick<UiState, 'mode' | 'filter' | 'confirm' | 'status'>;
  /** The last fetch error, if the last fetch failed. */
  error?: { message: string; at: number };
  /** When the last good snapshot arrived. */
  lastOkAt?: number;
  intervalMs: number;
  width: number;
  now: number;
}

/**
 * The bottom line: the filter prompt or the y/n question when one is open, otherwise the
 * result of the last action; then the fetch state (the error in red, keeping the last good
 * data, or when the data was updated).
 */
export function StatusLine({ ui, error, lastOkAt, intervalMs, width, now }: StatusLineProps) {
  const fetchState = error ? (
    <Text color={colors.failure}>
      fetch failed: {printable(error.message)}
      {lastOkAt !== undefined ? ` · showing data from ${fmtAge(now - lastOkAt)} ago` : ' · no data yet'}
    </Text>
  ) : (
    <Text dimColor>
      {lastOkAt === undefined ? 'loading…' : `updated ${fmtAge(now - lastOkAt)} ago`} · every {fmtInterval(intervalMs)} · ? help · q quit
    </Text>
  );
  let left: ReactNode = null;
  if (ui.mode === 'filter') {
    left = (
      <Text>
        <Text color={colors.accent}>/</Text>
        {printable(ui.filter)}
        <Text inverse> </Text>
        <Text dimColor> Enter keep · Esc clear</Text>
      </Text>
    );
  } else if (ui.mode === 'confirm' && ui.confirm) {
    const { op, count } = ui.confirm;
    left = (
      <Text color={colors.warn} bold>
        Replay {count} quarantined {printable(op)} request{count === 1 ? '' : 's'}? [y/N]
      </Text>
    );
  } else {
    left = (
      <Text>
        {ui.filter ? <Text color={colors.accent}>filter /{printable(ui.filter)} </Text> : null}
        {ui.status ? <Text color={toneColor(ui.status.tone)}>{printable(ui.status.text)}</Text> : null}
      </Text>
    );
  }
  const hasLeft = ui.mode !== 'normal' || !!ui.filter || !!ui.status;
  return (
    <Box width={width}>
      <Text wrap="truncate">
        {left}
        {hasLeft ? <Text dimColor>  │  </Text> : null}
        {fetchState}
      </Text>
    </Box>
  );
}
