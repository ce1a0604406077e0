import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './connection.js';

/**
 * The Lua scripts of `./lua/` (BullMQ's layout: `name-<number of keys>.lua`, `-n` for a
 * variable number, a header documenting KEYS/ARGV/returns, `--- @include` for shared
 * functions). Each one is registered once per connection with `defineCommand` (EVALSHA,
 * falling back to EVAL after a server restart).
 * Files are found next to this module, so this works from `src/` (tsx, vitest) and from
 * `dist/` (`npm run build` copies the .lua files).
 */
export type ScriptName =
  | 'cache-set-n'
  | 'cache-delete-n'
  | 'cache-mark-stale-n'
  | 'cache-prune-n'
  | 'lock-acquire-1'
  | 'lock-extend-1'
  | 'lock-release-1'
  | 'pending-add-n'
  | 'pending-take-3'
  | 'steps-begin-n'
  | 'steps-finish-n'
  | 'steps-quarantine-n'
  | 'registry-heartbeat-2'
  | 'registry-incr-2'
  | 'registry-workers-2'
  | 'registry-remove-2'
  | 'quarantine-put-5'
  | 'quarantine-delete-5'
  | 'layouts-declare-1'
  | 'region-lock-or-read-n'
  | 'region-store-release-n';

interface Script {
  command: string;
  lua: string;
  /** Fixed number of keys from the file name, undefined for `-n`. */
  keys?: number;
}

const LUA_DIR = new URL('./lua/', import.meta.url);
/** `--- @include "name"` lines are replaced by `lua/includes/name.lua` (shared local functions). */
const INCLUDE = /^--- @include "([A-Za-z]+)"$/gm;

function withIncludes(lua: string) {
  return lua.replace(INCLUDE, (_, name: string) => readFileSync(new URL(`includes/${name}.lua`, LUA_DIR), 'utf8'));
}
let loaded: Map<string, Script> | undefined;

function scripts() {
  if (loaded) return loaded;
  const dir = fileURLToPath(LUA_DIR);
  const out = new Map<string, Script>();
  for (const file of readdirSync(dir)) {
    const m = /^([a-z-]+)-(\d+|n)\.lua$/.exec(file);
    if (!m) continue;
    const name = `${m[1]}-${m[2]}`;
    const command = `bk_${m[1]!.replace(/-/g, '_')}`;
    out.set(name, { command, lua: withIncludes(readFileSync(new URL(file, LUA_DIR), 'utf8')), keys: m[2] === 'n' ? undefined : Number(m[2]) });
  }
  return (loaded = out);
}

const defined = new WeakSet<RedisClient>();

/** Register every script on a connection (once). */
export function defineScripts(client: RedisClient) {
  if (defined.has(client)) return;
  // numberOfKeys omitted: callers pass numkeys first, which serves fixed and variable scripts alike.
  for (const s of scripts().values()) client.defineCommand(s.command, { lua: s.lua });
  defined.add(client);
}

type Arg = string | number | Buffer;

/** Queue a script call on a pipeline/multi (one entry of its reply). */
export function queueScript(target: ChainableCommander, name: ScriptName, keys: string[], args: Arg[]) {
  const s = scripts().get(name);
  if (!s) throw new Error(`unknown Lua script ${name}`);
  if (s.keys !== undefined && s.keys !== keys.length) throw new Error(`${name}.lua takes ${s.keys} keys, got ${keys.length}`);
  (target as unknown as Record<string, (...a: Arg[]) => unknown>)[s.command]!(keys.length, ...keys, ...args);
  return target;
}

/** Run one script now. */
export function runScript<T = unknown>(client: RedisClient, name: ScriptName, keys: string[], args: Arg[]): Promise<T> {
  const s = scripts().get(name);
  if (!s) throw new Error(`unknown Lua script ${name}`);
  if (s.keys !== undefined && s.keys !== keys.length) throw new Error(`${name}.lua takes ${s.keys} keys, got ${keys.length}`);
  return (client as unknown as Record<string, (...a: Arg[]) => Promise<T>>)[s.command]!(keys.length, ...keys, ...args);
}

/** Results of `pipeline.exec()`, throwing the first error. */
export function results(replies: [Error | null, unknown][] | null): unknown[] {
  if (!replies) throw new Error('redis pipeline was discarded');
  return replies.map(([err, v]) => {
    if (err) throw err;
    return v;
  });
}
