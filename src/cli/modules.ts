/**
 * Import a user module by path: JavaScript with `import()`, TypeScript through tsx's ESM
 * API (loaded only when a `.ts` file is asked for, so JavaScript users pay nothing).
 */
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
