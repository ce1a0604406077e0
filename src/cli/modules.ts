/**
 * Import a user module by path: JavaScript with `import()`, TypeScript through tsx's ESM
 * API (loaded only when a `.ts` file is asked for, so JavaScript users pay nothing).
 */
import { spawnSync } from 'node:child_process';
import { isAbsolute, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

const TS = /\.(c|m)?tsx?$/i;

export const isTypeScript = (path: string) => TS.test(path);

export async function importModule(absPath: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(absPath).href;
  if (isTypeScript(absPath)) {
    const { tsImport } = await import('tsx/esm/api');
    return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  }
  return (await import(url)) as Record<string, unknown>;
}

/**
 * The default export of a module namespace, unwrapping the `{ default: { default } }`
 * nesting that CommonJS interop (and tsx for .cts files) can produce.
 */
export function defaultExport(mod: Record<string, unknown>): unknown {
  let d = mod.default;
  if (d && typeof d === 'object' && 'default' in d && Object.keys(d).every((k) => k === 'default' || k === '__esModule')) {
    d = (d as { default: unknown }).default;
  }
  return d;
}

/** A path as the user would like to read it: relative to cwd when inside it. */
export function displayPath(p: string, cwd = process.cwd()) {
  const r = relative(cwd, p);
  return r && !r.startsWith('..') && !isAbsolute(r) ? r : p;
}

/**
 * `syntax error: FILE:LINE:COLUMN: MESSAGE` when importing `absPath` failed on a syntax
 * error, else undefined. esbuild (tsx) puts the place in its message; V8's SyntaxError from
 * `import()` carries none, so `node --check` (same parser) is asked for it, only then.
 */
export function syntaxError(absPath: string, e: unknown): string | undefined {
  const msg = e instanceof Error ? e.message : String(e);
  const esbuild = /^Transform failed with \d+ errors?:\n(.+):(\d+):(\d+): ERROR: (.+)$/m.exec(msg);
  // esbuild counts columns from 0; editors and Node (the .mjs path below) from 1.
  if (esbuild) return `syntax error: ${displayPath(esbuild[1]!)}:${esbuild[2]}:${Number(esbuild[3]) + 1}: ${esbuild[4]}`;
  if (!(e instanceof SyntaxError) || isTypeScript(absPath)) return undefined;
  const check = spawnSync(process.execPath, ['--check', absPath], { encoding: 'utf8', timeout: 10_000 });
  // FILE:LINE, the source line, a caret under the column, a blank line, SyntaxError: MESSAGE
  const m = /^(.+):(\d+)\n.*\n( *)\^+\s*\n\s*SyntaxError: (.+)$/m.exec(check.stderr ?? '');
  if (!m) return `syntax error in ${displayPath(absPath)}: ${msg}`;
  return `syntax error: ${displayPath(m[1]!)}:${m[2]}:${m[3]!.length + 1}: ${m[4]}`;
}
