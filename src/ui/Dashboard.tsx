import { Box } from 'ink';
import { Detail } from './Detail.js';
import { Header } from './Header.js';
import { Help } from './Help.js';
import { planRows } from './layout.js';
import { OpsTable } from './OpsTable.js';
import { Quarantine } from './Quarantine.js';
import { visibleOps, type UiState } from './reducer.js';
import { groupByError, type SnapshotModel } from './snapshot.js';
import { StatusLine } from './StatusLine.js';
import { Workers } from './Workers.js';

export interface DashboardProps {
  model: SnapshotModel;
  ui: UiState;
  width: number;
  height: number;
  intervalMs: number;
  now: number;
}

/**
 * The whole screen from props: header, then the list (operations, workers, quarantine),
 * the detail view or the help, then the status line. Never taller than `height`.
 */
export function Dashboard({ model, ui, width, height, intervalMs, now }: DashboardProps) {
  const stats = model.snapshot?.stats;
  const allOps = stats?.ops ?? [];
  const shownNames = new Set(visibleOps({ ops: allOps.map((o) => ({ op: o.op, paused: o.paused, quarantined: o.quarantined })), filter: ui.filter }).map((o) => o.op));
  const ops = allOps.filter((o) => shownNames.has(o.op));
  // The filter narrows the quarantine panel to the operations shown.
  const items = model.snapshot?.quarantine ?? [];
  const groups = groupByError(ui.filter ? items.filter((it) => shownNames.has(it.op)) : items);
  const quarantined = ui.filter ? ops.reduce((n, o) => n + o.quarantined, 0) : (stats?.totals.quarantined ?? 0);
  const workers = stats?.workers ?? [];
  const body = Math.max(0, height - 3); // header (2) and status line (1)
  let content;
  if (ui.help) {
    content = <Help width={width} intervalMs={intervalMs} />;
  } else if (ui.view === 'detail' && ui.selected !== undefined) {
    const op = ui.selected;
    content = (
      <Detail
        op={op}
        stats={allOps.find((o) => o.op === op)}
        rates={model.rates[op]}
        history={model.history[op] ?? []}
        detail={model.snapshot?.detail}
        width={width}
        rows={body}
        now={now}
      />
    );
  } else {
    const plan = planRows(height, { ops: ops.length, workers: workers.length, quarantine: groups.length });
    content = (
      <>
        <OpsTable ops={ops} rates={model.rates} history={model.history} selected={ui.selected} width={width} rows={plan.ops} now={now} filter={ui.filter} />
        <Workers workers={workers} rows={plan.workers} width={width} now={now} />
        <Quarantine groups={groups} total={quarantined} rows={plan.quarantine} width={width} now={now} filter={ui.filter} />
      </>
    );
  }
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Header stats={stats} width={width} />
      <Box flexDirection="column" flexGrow={1} overflow="hidden">
        {content}
      </Box>
      <StatusLine ui={ui} error={model.error} lastOkAt={model.lastOkAt} intervalMs={intervalMs} width={width} now={now} />
    </Box>
  );
}
