/**
 * Where `warm` gets its requests: input lines (URIs or JSON lines), a template with every
 * placeholder bound (exact URIs, no scan), a template fed with variables from input lines
 * (one JSON object a line), or a scan of the existing entries through the index (--match
 * GLOB, or --cached with a template whose placeholders are not all bound).
 */
import type { Readable } from 'node:stream';
import type { WarmRequest } from '../core/engine.js';
import { ConfigError } from '../core/errors.js';
import type { CacheStore } from '../core/ports.js';
import { selectIds } from '../core/select.js';
import { expandTemplate, placeholders, type TemplateVars } from '../core/template.js';
import { parseLines, parseVarLines, readLines, type InputError } from './input.js';

export type WarmSource =
  | { kind: 'lines'; input: Readable }
  | { kind: 'exact'; uris: string[] }
  | { kind: 'template-lines'; input: Readable }
  | { kind: 'scan' };

export interface WarmPlan {
  op?: string;
  template?: string;
  vars: TemplateVars;
  match?: string;
  /** Warm the entries already cached that match the template (scan through the index). */
  cached?: boolean;
}

/** Decide the source of the requests (and check the flags fit together). */
export function planWarm(p: WarmPlan): WarmSource['kind'] {
  if (p.template !== undefined && p.match !== undefined) throw new ConfigError('give --template or --match, not both');
  if (Object.keys(p.vars).length && p.template === undefined) throw new ConfigError('--var needs --template');
  if (p.template !== undefined || p.match !== undefined) {
    if (p.op === undefined) throw new ConfigError(`${p.template !== undefined ? '--template' : '--match'} needs --op`);
  }
  if (p.cached && p.template === undefined && p.match === undefined) throw new ConfigError('--cached needs --template (or use --match)');
  if (p.match !== undefined) return 'scan';
  if (p.template !== undefined) {
    const exact = expandTemplate(p.template, p.vars);
    if (exact.bound) return 'exact';
    return p.cached ? 'scan' : 'template-lines';
  }
  return 'lines';
}

export interface WarmStreamOptions {
  op?: string;
  kwargs?: Record<string, unknown>;
  template?: string;
  vars: TemplateVars;
  match?: string;
  known: string[];
  cache: CacheStore;
  onError: (e: InputError) => void;
  /** Counts every request produced (progress). */
  onRead?: () => void;
}

/** The requests of a plan, as a stream. */
export async function* warmRequests(kind: WarmSource['kind'], input: Readable | undefined, o: WarmStreamOptions): AsyncGenerator<WarmRequest> {
  const known = new Set(o.known);
  const knownList = () => o.known.join(', ') || '(none)';
  const op = o.op!;
  const req = (uri: string): WarmRequest => (o.kwargs ? { op, uri, kwargs: o.kwargs } : { op, uri });
  if (kind === 'exact') {
    for (const uri of expandTemplate(o.template!, o.vars).uris) {
      o.onRead?.();
      yield req(uri);
    }
    return;
  }
  if (kind === 'scan') {
    const sel = o.match !== undefined ? { match: o.match } : { template: o.template!, vars: o.vars };
    for await (const uri of selectIds(o.cache, op, sel)) {
      o.onRead?.();
      yield req(uri);
    }
    return;
  }
  if (kind === 'template-lines') {
    const names = placeholders(o.template!);
    for await (const item of parseVarLines(readLines(input!))) {
      o.onRead?.();
      if (!item.ok) {
        o.onError(item.error);
        continue;
      }
      const unknown = Object.keys(item.vars).find((k) => !names.includes(k));
      if (unknown !== undefined) {
        o.onError({ line: item.line, message: `line ${item.line}: the template has no {${unknown}} placeholder (it has ${names.map((n) => `{${n}}`).join(', ')})` });
        continue;
      }
      const vars: TemplateVars = { ...o.vars, ...item.vars };
      const missing = names.filter((n) => vars[n] === undefined);
      if (missing.length) {
        o.onError({ line: item.line, message: `line ${item.line}: no value for ${missing.map((n) => `{${n}}`).join(', ')}` });
        continue;
      }
      for (const uri of expandTemplate(o.template!, vars).uris) yield req(uri);
    }
    return;
  }
  const validate = (r: { op: string }) => (known.has(r.op) ? undefined : `unknown operation "${r.op}"; known operations: ${knownList()}`);
  for await (const item of parseLines(readLines(input!), { op: o.op, kwargs: o.kwargs, validate })) {
    o.onRead?.();
    if (!item.ok) o.onError(item.error);
    else yield item.req.kwargs ? { op: item.req.op, uri: item.req.uri, kwargs: item.req.kwargs } : { op: item.req.op, uri: item.req.uri };
  }
}
