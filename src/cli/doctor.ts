/**
 * `backache doctor`: check the configuration, the operations module and every backend,
 * and say what to fix. Each check is independent: a failure is reported and the next one
 * still runs. Passwords never appear (URLs are masked).
 */
import type { Check } from '../core/health.js';
import { maskText, maskUrl } from '../core/url.js';
import { displayPath, firstLine, resolveConfig, type ResolvedConfig, type SettingFlags } from './config.js';
import { loadOperations, NO_OPERATIONS_HINT } from './operations.js';

export interface DoctorReport {
  checks: Check[];
  ok: boolean;
  /** 0 all good (warnings allowed), 2 configuration, 3 a backend cannot be reached. */
  exitCode: 0 | 2 | 3;
}

const fromErr = (name: string, e: unknown, exitCode: 2 | 3): Check => ({
  name,
  status: 'fail',
  message: maskText(firstLine(e)),
  exitCode: ((e as { exitCode?: number })?.exitCode === 2 || (e as { exitCode?: number })?.exitCode === 3 ? (e as { exitCode: 2 | 3 }).exitCode : exitCode),
  ...((e as { hint?: string })?.hint ? { hint: maskText((e as { hint: string }).hint) } : {}),
});

export async function runDoctor(flags: SettingFlags, argv: string[], onCheck: (c: Check) => void = () => {}): Promise<DoctorReport> {
  const checks: Check[] = [];
  const add = (c: Check) => {
    checks.push(c);
    onCheck(c);
  };

  // 1. Configuration.
  let cfg: ResolvedConfig | undefined;
  try {
    cfg = await resolveConfig({ flags, argv });
    const src = (s?: string) => (s ? ` (${s === 'file' ? 'config file' : s})` : '');
    add({
      name: 'config',
      status: 'ok',
      message:
        `${cfg.configFile ? `file ${displayPath(cfg.configFile)}` : 'no config file (backache.config.{ts,mjs,js,json})'}; ` +
        `broker ${maskUrl(cfg.broker)}${src(cfg.sources.broker)}, cache ${cfg.cache ? `${maskUrl(cfg.cache)}${src(cfg.sources.cache)}` : 'the broker'}, prefix ${cfg.prefix}${src(cfg.sources.prefix)}`,
    });
  } catch (e) {
    add(fromErr('config', e, 2));
  }
  if (!cfg) return finish(checks);

  // 2. The operations module.
  let opNames: string[] = [];
  if (!cfg.operations) {
    add({ name: 'operations', status: 'warn', message: 'no operations module configured (needed by run and work; submit, call, warm, get and invalidate use the operations workers registered)', hint: NO_OPERATIONS_HINT });
  } else {
    const where = 'path' in cfg.operations ? displayPath(cfg.operations.path) : `inline in ${displayPath(cfg.operations.from)}`;
    try {
      const { operations } = await loadOperations(cfg.operations);
      const { normalizeOperations } = await import('../core/operations.js');
      opNames = [...normalizeOperations(operations).keys()];
      add(
        opNames.length
          ? { name: 'operations', status: 'ok', message: `${where}: ${opNames.join(', ')}` }
          : { name: 'operations', status: 'warn', message: `${where} defines no operation`, hint: 'export default defineOperations({ name: async (uri) => … })' },
      );
    } catch (e) {
      add(fromErr('operations', e, 2));
    }
  }

  // 3. Each store: reachable and set up right.
  const { checkStoreUrl } = await import('../core/health.js');
  for (const c of await checkStoreUrl('broker', cfg.broker, cfg.prefix)) add(c);
  if (cfg.cache && cfg.cache !== cfg.broker) for (const c of await checkStoreUrl('cache', cfg.cache, cfg.prefix)) add(c);
  if (checks.some((c) => c.status === 'fail' && c.exitCode === 3)) return finish(checks);

  // 4. Open the deployment as the other commands do, and read from it.
  try {
    const { openBackend } = await import('../core/backends/index.js');
    const { collectStats } = await import('../core/stats.js');
    const backend = await openBackend({ broker: cfg.broker, cache: cfg.cache, prefix: cfg.prefix });
    try {
      const st = await collectStats(backend, opNames);
      add({ name: 'backend', status: 'ok', message: `opened and read (prefix ${cfg.prefix}): ${st.totals.entries} entries, ${st.totals.waiting} waiting jobs, ${st.totals.quarantined} quarantined` });
      // A SQLite file created just now: its journal mode can be read only after opening it.
      if (/^sqlite:/i.test(cfg.broker) && !checks.some((c) => /journal mode/.test(c.message))) {
        const wal = (await checkStoreUrl('broker', cfg.broker, cfg.prefix)).find((c) => /journal mode/.test(c.message));
        if (wal) add(wal);
      }
      const serving = new Set(st.workers.flatMap((w) => w.ops));
      const unserved = opNames.filter((op) => !serving.has(op));
      if (st.workers.length === 0) add({ name: 'workers', status: 'warn', message: 'no worker alive: delegated requests wait until one runs', hint: 'start one: backache work' });
      else if (unserved.length) add({ name: 'workers', status: 'warn', message: `${st.workers.length} alive, but none serves ${unserved.join(', ')}`, hint: 'start a worker with this operations module: backache work' });
      else add({ name: 'workers', status: 'ok', message: `${st.workers.length} alive` });
      if (st.totals.quarantined) add({ name: 'quarantine', status: 'warn', message: `${st.totals.quarantined} quarantined request(s)`, hint: 'see them: backache quarantine list --group' });
    } finally {
      await backend.close();
    }
  } catch (e) {
    add(fromErr('backend', e, 3));
  }
  return finish(checks);
}

function finish(checks: Check[]): DoctorReport {
  const failed = checks.filter((c) => c.status === 'fail');
  const exitCode = failed.some((c) => c.exitCode === 3) ? 3 : failed.length ? 2 : 0;
  return { checks, ok: failed.length === 0, exitCode };
}

export function formatCheck(c: Check): string {
  const mark = c.status === 'ok' ? '✓' : c.status === 'warn' ? '!' : '✗';
  return maskText(`${mark} ${c.name}: ${c.message}${c.hint ? `\n    fix: ${c.hint}` : ''}`);
}
