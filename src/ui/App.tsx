import { useApp, useInput, useStdout } from 'ink';
import { useCallback, useEffect, useRef, useState } from 'react';
import { Dashboard } from './Dashboard.js';
import { isEngineEffect, runEffect } from './effects.js';
import { initialState, keysFromInk, reduce, STATUS_MS, visibleOps, type Action, type UiState } from './reducer.js';
import { fetchSnapshot, type TopSource } from './snapshot.js';
import { useSnapshot } from './use-snapshot.js';

export interface AppProps {
  source: TopSource;
  intervalMs: number;
  /** Read keys (false when stdin is not a terminal: the dashboard only displays). */
  interactive?: boolean;
  /** How long the result of an action stays on the status line (default STATUS_MS). */
  statusMs?: number;
}

/** The terminal's size, following resizes; one line is kept free so Ink never scrolls. */
function useTerminalSize() {
  const { stdout } = useStdout();
  const read = () => ({ width: Math.max(20, stdout.columns || 80), height: Math.max(8, (stdout.rows || 24) - 1) });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = () => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return size;
}

/** Wires the polling hook, the reducer and the effect runner to the Dashboard. */
export function App({ source, intervalMs, interactive = true, statusMs = STATUS_MS }: AppProps) {
  const { exit } = useApp();
  const [ui, setUi] = useState<UiState>(() => initialState());
  const uiRef = useRef(ui);
  // Reads the view at fetch time, so a refresh right after Enter already loads the detail.
  const fetch = useCallback(() => {
    const s = uiRef.current;
    return fetchSnapshot(source, {
      detailOp: s.view === 'detail' ? s.selected : undefined,
      quarantineOps: s.filter ? visibleOps(s).map((o) => o.op) : undefined,
    });
  }, [source]);
  const { model, refresh } = useSnapshot(fetch, intervalMs);
  const { width, height } = useTerminalSize();

  const dispatch = useCallback(
    (action: Action) => {
      const { state, effects } = reduce(uiRef.current, action);
      uiRef.current = state;
      setUi(state);
      for (const e of effects) {
        if (e.type === 'quit') exit();
        else if (e.type === 'refresh') refresh();
        else if (isEngineEffect(e)) {
          void runEffect(source, e).then((done) => {
            dispatch(done);
            if (done.type === 'effect-done') refresh();
          });
        }
      }
    },
    [exit, refresh, source],
  );

  // The result of an action goes after a few seconds (an action still running stays).
  const status = ui.status;
  useEffect(() => {
    if (!status || status.pending) return;
    const t = setTimeout(() => dispatch({ type: 'status-expired', status }), statusMs);
    return () => clearTimeout(t);
  }, [status, dispatch, statusMs]);

  // Each good snapshot tells the reducer which operations exist (for selection and actions).
  const snapshot = model.snapshot;
  useEffect(() => {
    const ops = snapshot?.stats.ops;
    if (ops) dispatch({ type: 'ops', ops: ops.map((o) => ({ op: o.op, paused: o.paused, quarantined: o.quarantined })) });
  }, [snapshot, dispatch]);

  useInput(
    (input, key) => {
      for (const k of keysFromInk(input, key)) dispatch({ type: 'key', key: k });
    },
    { isActive: interactive },
  );

  return <Dashboard model={model} ui={ui} width={width} height={height} intervalMs={intervalMs} now={Date.now()} />;
}
