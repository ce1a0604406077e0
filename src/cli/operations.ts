/**
 * Load the user's operations module: `export default defineOperations({...})` (or a named
 * `operations` export). JavaScript or TypeScript. A missing module, one that throws on
 * import, or one that exports no operations is a configuration error (exit 2) naming the path.
 */
import { existsSync } from 'node:fs';
import { ConfigError, OperationsModuleError, UnknownOperationError } from '../core/errors.js';
import type { OperationsDef } from '../core/operations.js';
import { displayPath, firstLine, type OperationsSource } from './config.js';
import { defaultExport, importModule } from './modules.js';

export const NO_OPERATIONS_HINT = 'pass --operations FILE (-o), set BACKACHE_OPERATIONS, or add "operations" to backache.config.ts';

export async function loadOperations(src: OperationsSource): Promise<{ operations: OperationsDef; from: string }> {
  if ('inline' in src) return { operations: src.inline, from: src.from };
  const shown = displayPath(src.path);
  if (!existsSync(src.path)) {
    throw new OperationsModuleError(`operations module ${shown} not found`, { hint: NO_OPERATIONS_HINT });
  }
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(src.path);
  } catch (e) {
    throw new OperationsModuleError(`operations module ${shown} failed to load: ${firstLine(e)}`, {
      hint: 'run it with --verbose to see the stack',
      cause: e,
    });
  }
  const ops = defaultExport(mod) ?? mod.operations;
  if (!ops || typeof ops !== 'object' || Array.isArray(ops)) {
    throw new OperationsModuleError(`operations module ${shown} exports no operations`, {
      hint: 'export default defineOperations({ name: async (uri) => … }) or export const operations = {…}',
    });
  }
  return { operations: ops as OperationsDef, from: src.path };
}

/** Parse a JSON flag value (`--kwargs`, `--cb-args`); `object` demands a JSON object. */
export function parseJsonFlag(flag: string, text: string | undefined, o: { object?: boolean } = {}): any {
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`--${flag} is not valid JSON: ${firstLine(e)}`, { hint: `e.g. --${flag} '${o.object ? '{"lang":"en"}' : '{"user":42}'}'` });
  }
  if (o.object && (v === null || typeof v !== 'object' || Array.isArray(v))) {
    throw new ConfigError(`--${flag} must be a JSON object, got ${JSON.stringify(v)}`, { hint: `e.g. --${flag} '{"lang":"en"}'` });
  }
  return v;
}

/**
 * `--op` must name a known operation (of the module, or registered by a worker): exit 2
 * listing the known ones; with none known, say how to make some.
 */
export function assertKnownOp(op: string | undefined, known: string[]) {
  if (op !== undefined && !known.includes(op)) {
    throw new UnknownOperationError(op, known, known.length ? {} : { hint: `no worker has registered an operation here yet: start one (backache work -o FILE), or ${NO_OPERATIONS_HINT}` });
  }
}
