/**
 * The base of every backache command (not a command itself: package.json's command
 * patterns leave this file out).
 *
 * - `baseFlags`: --broker, --cache, --prefix, --operations/-o, --config, --verbose, each
 *   with its BACKACHE_* variable; `this.settings()` resolves them with the config file
 *   (flags > env > backache.config.* > defaults, see src/cli/config.ts).
 * - `this.openApp()` loads the operations module and opens the engine, lazily (the
 *   engine, the backends and tsx are imported only here, so `--help` and `--version` stay
 *   fast); the app is closed in `finally`.
 * - `catch` is the one place errors become exit codes and a one-line message
 *   (src/cli/errors.ts).
 * - `this.status` is stderr: diagnostics, and a progress line on a TTY.
 *
 * A subclass declares `static flags`/`static args`, reads `this.flags`/`this.args`, and
 * returns data (printed with --json when `static enableJsonFlag = true`).
 */
import { Command, Flags, type Interfaces } from '@oclif/core';
import type { Backache } from '../core/engine.js';
import type { Logger, OperationsDef } from '../core/operations.js';
import type { ResolvedConfig } from '../cli/config.js';
import { describeError } from '../cli/errors.js';
import { StatusLine } from '../cli/progress.js';
import { maskText } from '../core/url.js';

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>;
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

/** The environment variable of a command flag: `--dry-run` → `BACKACHE_DRY_RUN`. */
export const env = (flag: string) => `BACKACHE_${flag.toUpperCase().replace(/-/g, '_')}`;

/**
 * A `multiple: true` flag's values. From its environment variable oclif hands over one
 * string: there, values are one per line (`BACKACHE_VAR=$'id=1\nid=2'`).
 */
export const listFlag = (v: string[] | string | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : v.split('\n').filter((x) => x !== ''));

const GLOBAL = 'GLOBAL';

export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override baseFlags = {
    broker: Flags.string({
      summary: 'Where jobs, locks, pending requests, quarantine and workers live: sqlite:PATH, redis://…, redis+sentinel://…, redis+cluster://h1:p1,h2:p2, memory:.',
      description: 'Default: sqlite:.backache/backache.db in the working directory (or the config file).',
      env: 'BACKACHE_BROKER',
      helpGroup: GLOBAL,
    }),
    cache: Flags.string({
      summary: 'Where cached entries live (default: the broker): sqlite:PATH, redis://…, mongodb://…/db, memory:.',
      env: 'BACKACHE_CACHE',
      helpGroup: GLOBAL,
    }),
    prefix: Flags.string({
      summary: 'Namespace of every key, so several deployments share one server (default: backache).',
      env: 'BACKACHE_PREFIX',
      helpGroup: GLOBAL,
    }),
    operations: Flags.string({
      char: 'o',
      summary: 'Operations module (.ts, .mjs or .js) exporting default defineOperations({...}).',
      env: 'BACKACHE_OPERATIONS',
      helpGroup: GLOBAL,
    }),
    config: Flags.string({
      summary: 'Config file (default: backache.config.{ts,mjs,js,json} found upward from the working directory).',
      env: 'BACKACHE_CONFIG',
      helpGroup: GLOBAL,
    }),
    verbose: Flags.boolean({
      summary: 'More diagnostics on stderr, and stack traces with errors.',
      env: 'BACKACHE_VERBOSE',
      helpGroup: GLOBAL,
    }),
  };

  protected flags!: BaseFlags<T>;
  protected args!: BaseArgs<T>;
  /** Every positional argument, for commands with `static strict = false` (URI…). */
  protected positional: string[] = [];
  private resolved?: ResolvedConfig;
  private openApps: Backache[] = [];
  private statusLine?: StatusLine;
  private cleanups: (() => unknown)[] = [];

  override async init(): Promise<void> {
    await super.init();
    const { args, flags, argv } = await this.parse(this.ctor as Interfaces.Input<any, any, any>);
    this.flags = flags as BaseFlags<T>;
    this.args = args as BaseArgs<T>;
    this.positional = argv.map(String);
  }

  /** broker, cache, prefix and operations, with where each came from. */
  protected async settings(): Promise<ResolvedConfig> {
    if (!this.resolved) {
      const { resolveConfig } = await import('../cli/config.js');
      const f = this.flags as { broker?: string; cache?: string; prefix?: string; operations?: string; config?: string };
      this.resolved = await resolveConfig({ flags: f, argv: this.argv });
    }
    return this.resolved;
  }

  /** The operations of the configured module, or undefined when none is configured. */
  protected async loadOperations(need: 'required' | 'optional'): Promise<OperationsDef | undefined> {
    const s = await this.settings();
    const { loadOperations, NO_OPERATIONS_HINT } = await import('../cli/operations.js');
    if (!s.operations) {
      if (need === 'optional') return undefined;
      const { ConfigError } = await import('../core/errors.js');
      throw new ConfigError(`${this.commandName || 'this command'} needs an operations module`, { hint: NO_OPERATIONS_HINT });
    }
    return (await loadOperations(s.operations)).operations;
  }

  /**
   * Open the engine with the resolved settings. `operations: 'required'` fails (exit 2)
   * without an operations module; 'optional' loads it when configured; 'none' never does.
   * Closed automatically when the command ends.
   */
  protected async openApp(
    o: { operations?: 'required' | 'optional' | 'none'; logger?: Logger; transform?: (ops: OperationsDef) => OperationsDef } = {},
  ): Promise<Backache> {
    const s = await this.settings();
    const need = o.operations ?? 'optional';
    let ops = need === 'none' ? undefined : await this.loadOperations(need);
    if (ops && o.transform) ops = o.transform(ops);
    const [{ createBackache }, { BackacheError, BackendUnavailableError }, { maskUrl }] = await Promise.all([
      import('../core/engine.js'),
      import('../core/errors.js'),
      import('../core/url.js'),
    ]);
    try {
      const app = await createBackache({ operations: ops ?? {}, broker: s.broker, cache: s.cache, prefix: s.prefix, logger: o.logger ?? this.logger() });
      this.openApps.push(app);
      return app;
    } catch (e) {
      if (e instanceof BackacheError) throw e;
      // A driver that failed without saying why in our terms: the backend is unreachable.
      const where = `broker ${maskUrl(s.broker)}${s.cache ? ` / cache ${maskUrl(s.cache)}` : ''}`;
      throw new BackendUnavailableError(`cannot open ${where}: ${(e as Error)?.message ?? e}`, { cause: e, hint: 'check it with: backache doctor' });
    }
  }

  /**
   * The engine of a producer (submit, call, warm, get, invalidate): the operations module
   * when one is configured, and the operations the registry knows (a worker registered
   * them, see Backache.discoverOperations), so a producer needs no module. `op`, when
   * given, must be one of them: otherwise exit 2 listing the known ones. `cached` also
   * counts operations whose entries the cache holds (for reading and invalidating).
   */
  protected async openProducer(op: string | undefined, o: { cached?: boolean } = {}): Promise<Backache> {
    const app = await this.openApp({ operations: 'optional' });
    if (op === undefined || !app.operationNames().includes(op)) await app.discoverOperations({ cached: o.cached });
    const { assertKnownOp } = await import('../cli/operations.js');
    assertKnownOp(op, app.knownOperations());
    return app;
  }

  /** stderr: diagnostics, and the progress line on a TTY. */
  protected get status(): StatusLine {
    this.statusLine ??= new StatusLine(process.stderr);
    return this.statusLine;
  }

  /** Print one diagnostic line on stderr (passwords masked), above any progress line. */
  protected diag(line: string) {
    this.status.print(maskText(line));
  }

  /** A logger for the engine and `ctx.log`: warnings and errors on stderr, info with --verbose. */
  protected logger(): Logger {
    const verbose = !!(this.flags as { verbose?: boolean }).verbose;
    const write = (level: string, msg: string, data?: Record<string, unknown>) => {
      const extra = data && Object.keys(data).length ? ` ${JSON.stringify(data)}` : '';
      this.diag(`${level}: ${msg}${extra}`);
    };
    return {
      info: (m, d) => (verbose ? write('info', m, d) : undefined),
      warn: (m, d) => write('warn', m, d),
      error: (m, d) => write('error', m, d),
    };
  }

  /** Some items failed: exit 1 at the end (unless a stronger code is already set). */
  protected markFailed() {
    if (!process.exitCode) process.exitCode = 1;
  }

  /** Run `fn` when the command ends (after the app is closed). */
  protected onCleanup(fn: () => unknown) {
    this.cleanups.push(fn);
  }

  /** The command as the user typed it, for messages: `quarantine list`. */
  protected get commandName() {
    return this.id?.replace(/:/g, ' ') ?? '';
  }

  /** --json output: pretty on a TTY, one line otherwise (easy to pipe and to parse as JSON lines). */
  override logJson(json: unknown): void {
    process.stdout.write(`${JSON.stringify(json, null, process.stdout.isTTY ? 2 : undefined)}\n`);
  }

  protected override async catch(err: Error & { exitCode?: number }): Promise<any> {
    this.statusLine?.stop();
    const verbose = !!(this.flags as { verbose?: boolean } | undefined)?.verbose || this.argv.includes('--verbose') || /^(1|true|yes)$/i.test(process.env.BACKACHE_VERBOSE ?? '');
    const d = describeError(err, { verbose, bin: this.config.bin, command: this.commandName });
    if (d.text) process.stderr.write(d.text);
    if (this.jsonEnabled() && d.text) this.logJson(d.json);
    process.exitCode = d.exitCode;
  }

  protected override async finally(err: Error | undefined): Promise<any> {
    this.statusLine?.stop();
    const apps = this.openApps.splice(0);
    const results = await Promise.allSettled(apps.map((a) => a.close()));
    for (const f of this.cleanups.splice(0)) await f();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed && !err) await this.catch(failed.reason);
    return super.finally(err);
  }
}
