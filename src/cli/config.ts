/**
 * Where the CLI's settings come from, strongest first (DESIGN.md §2): command-line flags,
 * environment (`BACKACHE_*`, read by oclif for each flag), a config file
 * `backache.config.{ts,mjs,js,json}` found upward from the working directory (or
 * `--config FILE`), defaults. Relative paths inside a config file (the operations module,
 * `sqlite:` files) are relative to that file; the defaults are relative to the working
 * directory.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from '../core/errors.js';
import type { OperationsDef } from '../core/operations.js';
import { defaultExport, displayPath, importModule, syntaxError } from './modules.js';

// Duplicated from core/backends/index.ts on purpose: importing that module here would load
// the backend registry on every start (even `--help`); a unit test keeps the two equal.
export const DEFAULT_BROKER = 'sqlite:.backache/backache.db';
export const DEFAULT_PREFIX = 'backache';

export const CONFIG_FILE_NAMES = ['backache.config.ts', 'backache.config.mjs', 'backache.config.js', 'backache.config.json'];

/** What a config file may hold. */
export interface FileConfig {
  broker?: string;
  cache?: string;
  prefix?: string;
  /** A module path (relative to the config file), or the operations themselves. */
  operations?: string | OperationsDef;
}

const FILE_KEYS = ['broker', 'cache', 'prefix', 'operations'] as const;

export type Source = 'flag' | 'env' | 'file' | 'default';

export type OperationsSource = { path: string } | { inline: OperationsDef; from: string };

export interface ResolvedConfig {
  broker: string;
  cache?: string;
  prefix: string;
  operations?: OperationsSource;
  configFile?: string;
  sources: { broker: Source; cache?: Source; prefix: Source; operations?: Source };
}

/** The flags that carry settings (each may also have come from its environment variable). */
export interface SettingFlags {
  broker?: string;
  cache?: string;
  prefix?: string;
  operations?: string;
  config?: string;
}

export const SETTING_ENV: Record<keyof SettingFlags, string> = {
  broker: 'BACKACHE_BROKER',
  cache: 'BACKACHE_CACHE',
  prefix: 'BACKACHE_PREFIX',
  operations: 'BACKACHE_OPERATIONS',
  config: 'BACKACHE_CONFIG',
};

/** The nearest config file from `cwd` upward, if any. */
export function findConfigFile(cwd: string): string | undefined {
  let dir = resolve(cwd);
  for (;;) {
    for (const name of CONFIG_FILE_NAMES) {
      const p = join(dir, name);
      if (existsSync(p) && statSync(p).isFile()) return p;
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

export async function loadConfigFile(path: string): Promise<FileConfig> {
  let raw: unknown;
  try {
    if (path.endsWith('.json')) raw = JSON.parse(readFileSync(path, 'utf8'));
    else {
      const mod = await importModule(path);
      raw = defaultExport(mod) ?? mod.config;
    }
  } catch (e) {
    throw new ConfigError(`config file ${path} cannot be loaded: ${syntaxError(path, e) ?? firstLine(e)}`, { hint: 'fix the file, or pass --config with another one', cause: e });
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`config file ${path} must ${path.endsWith('.json') ? 'hold a JSON object' : 'export default an object'} with ${FILE_KEYS.join(', ')}`);
  }
  const cfg = raw as Record<string, unknown>;
  for (const k of Object.keys(cfg)) {
    if (!(FILE_KEYS as readonly string[]).includes(k)) throw new ConfigError(`config file ${path}: unknown key "${k}"; known keys: ${FILE_KEYS.join(', ')}`);
  }
  for (const k of ['broker', 'cache', 'prefix'] as const) {
    if (cfg[k] !== undefined && typeof cfg[k] !== 'string') throw new ConfigError(`config file ${path}: "${k}" must be a string`);
  }
  const ops = cfg.operations;
  if (ops !== undefined && typeof ops !== 'string' && (typeof ops !== 'object' || ops === null || Array.isArray(ops))) {
    throw new ConfigError(`config file ${path}: "operations" must be a module path or an object of operations`);
  }
  return cfg as FileConfig;
}

/** `sqlite:` URLs with a relative path are made absolute against `dir`. */
export function anchorSqliteUrl(url: string, dir: string): string {
  const m = /^sqlite:(\/\/)?(.*)$/i.exec(url);
  if (!m) return url;
  const p = m[2]!;
  if (p === '' || p === ':memory:' || isAbsolute(p)) return p === '' ? `sqlite:${resolve(dir, '.backache/backache.db')}` : url;
  return `sqlite:${resolve(dir, p)}`;
}

export interface ResolveInput {
  flags: SettingFlags;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** The raw command line, to tell a flag from its environment variable. */
  argv?: string[];
}

export async function resolveConfig(input: ResolveInput): Promise<ResolvedConfig> {
  const cwd = input.cwd ?? process.cwd();
  const env = input.env ?? process.env;
  const argv = input.argv ?? [];
  const { flags } = input;
  const given = (name: keyof SettingFlags, char?: string): Source =>
    argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`) || (char !== undefined && (a === `-${char}` || a.startsWith(`-${char}`)))) ||
    env[SETTING_ENV[name]] === undefined
      ? 'flag'
      : 'env';

  let configFile: string | undefined;
  if (flags.config) {
    configFile = resolve(cwd, flags.config);
    if (!existsSync(configFile)) throw new ConfigError(`config file ${flags.config} not found (from ${given('config') === 'env' ? SETTING_ENV.config : '--config'})`);
  } else {
    configFile = findConfigFile(cwd);
  }
  const file = configFile ? await loadConfigFile(configFile) : {};
  const fileDir = configFile ? dirname(configFile) : cwd;

  const pick = <K extends 'broker' | 'cache' | 'prefix'>(k: K): { value?: string; source?: Source } => {
    if (flags[k] !== undefined && flags[k] !== '') return { value: flags[k], source: given(k) };
    if (file[k] !== undefined) return { value: k === 'prefix' ? file[k] : anchorSqliteUrl(file[k]!, fileDir), source: 'file' };
    return {};
  };
  const broker = pick('broker');
  const cache = pick('cache');
  const prefix = pick('prefix');

  let operations: OperationsSource | undefined;
  let opsSource: Source | undefined;
  if (flags.operations) {
    operations = { path: resolve(cwd, flags.operations) };
    opsSource = given('operations', 'o');
  } else if (typeof file.operations === 'string') {
    operations = { path: resolve(fileDir, file.operations) };
    opsSource = 'file';
  } else if (file.operations) {
    operations = { inline: file.operations, from: configFile! };
    opsSource = 'file';
  }

  return {
    broker: broker.value ?? DEFAULT_BROKER,
    cache: cache.value,
    prefix: prefix.value ?? DEFAULT_PREFIX,
    operations,
    configFile,
    sources: { broker: broker.source ?? 'default', cache: cache.source, prefix: prefix.source ?? 'default', operations: opsSource },
  };
}

export { displayPath };

export const firstLine = (e: unknown) => String(e instanceof Error ? e.message : e).split('\n')[0]!.trim();
