/**
 * Redis' eviction policy, said once and in backache's words.
 *
 * BullMQ needs `maxmemory-policy noeviction`: a Redis that evicts may drop jobs, locks and
 * pending requests under memory pressure. BullMQ (6.7) checks it in RedisConnection's
 * init, from `INFO`, and prints `IMPORTANT! Eviction policy is X. It should be
 * "noeviction"` with console.warn for every connection it opens: every Queue (one per
 * operation) and Worker, again on every reconnect; `backache stats` on a deployment of
 * seven operations printed it seven times. BullMQ has no option for this message alone:
 * `skipVersionCheck` silences it, but also makes BullMQ assume Redis 5.0.0 and give up
 * features it picks by version (getStateV2, fractional blocking timeouts, 1 ms blocks).
 * So backache reads the policy itself when it opens a Redis broker (one INFO per master),
 * reports it once (Backend.warnings, logged by the engine; `backache doctor` shows it as
 * a check), and, while a Redis broker is open, filters exactly BullMQ's message out of
 * console.warn: only a single-string call matching it, nothing else.
 */
import { isCluster, type RedisClient } from './connection.js';

const BULLMQ_EVICTION = /^IMPORTANT! Eviction policy is [^\s.]+\. It should be "noeviction"$/;

let open = 0;
let installed = false;

/**
 * Filter BullMQ's eviction message out of console.warn until the returned function is
 * called (counted: the filter works while any caller holds it). The wrapper, once
 * installed, stays (a pass-through when nobody holds it), so it never fights another
 * wrapper of console.warn installed after it.
 */
export function muteBullmqEvictionWarning(): () => void {
  open++;
  if (!installed) {
    installed = true;
    const original = console.warn;
    console.warn = function (this: Console, ...args: unknown[]) {
      if (open > 0 && args.length === 1 && typeof args[0] === 'string' && BULLMQ_EVICTION.test(args[0])) return;
      return original.apply(this, args);
    };
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    open--;
  };
}

/** `maxmemory_policy` of the server (each master of a cluster), from INFO memory. */
export async function evictionPolicies(client: RedisClient): Promise<string[]> {
  const servers = isCluster(client) ? client.nodes('master') : [client];
  const infos = await Promise.all(servers.map((s) => s.info('memory')));
  const found = infos.map((info) => /^maxmemory_policy:(\S+)/m.exec(String(info))?.[1]).filter((p): p is string => !!p);
  return [...new Set(found)];
}

/** What is wrong with a broker whose Redis may evict, and what to do; undefined when it may not. */
export function evictionProblem(policies: string[]): { message: string; hint: string } | undefined {
  const bad = policies.filter((p) => p !== 'noeviction');
  if (bad.length === 0) return undefined;
  return {
    message: `Redis maxmemory-policy is ${bad.join(', ')}, not noeviction: under memory pressure Redis may evict jobs, locks and pending requests (BullMQ requires noeviction)`,
    hint: 'set maxmemory-policy noeviction, and put the cache on another Redis if it must evict',
  };
}

/** The one-line warning of evictionProblem, or undefined. */
export function evictionWarning(policies: string[]): string | undefined {
  const p = evictionProblem(policies);
  return p && `${p.message}; ${p.hint}`;
}
