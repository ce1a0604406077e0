/**
 * Colours mean the same everywhere on the dashboard: failures red, stale or paused
 * yellow, healthy green, work in progress cyan, secondary text dim.
 */
import type { Tone } from './reducer.js';

export const colors = {
  failure: 'red',
  warn: 'yellow',
  ok: 'green',
  busy: 'cyan',
  accent: 'cyan',
} as const;

export const toneColor = (t: Tone): string | undefined => (t === 'error' ? colors.failure : t === 'warn' ? colors.warn : t === 'ok' ? colors.ok : undefined);

/** Colour of a job state in lists. */
export function stateColor(state: string): string | undefined {
  switch (state) {
    case 'completed':
      return colors.ok;
    case 'quarantined':
    case 'failed':
      return colors.failure;
    case 'delayed':
      return colors.warn;
    case 'active':
      return colors.busy;
    default:
      return undefined;
  }
}

/** A worker whose last heartbeat is older than this is drawn as stale (yellow). */
export const STALE_HEARTBEAT_MS = 5000;
