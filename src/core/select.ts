import { checkWellFormed, ConfigError } from './errors.js';
import type { CacheStore } from './ports.js';
import { expandTemplate, globMatcher, templateMatcher, type TemplateVars } from './template.js';

export interface Selection {
  uris?: string[];
  template?: string;
  vars?: TemplateVars;
  match?: string;
}

/** Refuse a selection holding a string that is not well-formed Unicode (it could match no key truthfully). */
export function checkSelection(sel: Selection) {
  const strings: [string, string][] = [];
  if (sel.template !== undefined) strings.push([sel.template, 'template']);
  if (sel.match !== undefined) strings.push([sel.match, 'match']);
  for (const u of sel.uris ?? []) strings.push([u, 'uri']);
  for (const [k, v] of Object.entries(sel.vars ?? {})) for (const x of Array.isArray(v) ? v : [v]) strings.push([String(x), `--var ${k}`]);
  for (const [s, what] of strings) {
    const bad = checkWellFormed(s, what);
    if (bad) throw new ConfigError(bad);
  }
}

/**
 * The ids a selection names in one namespace. Exact URIs (or a fully bound template) are
 * returned without scanning; unbound placeholders and globs scan through the index from
 * their literal prefix.
 */
export async function* selectIds(cache: CacheStore, ns: string, sel: Selection): AsyncGenerator<string> {
  const given = [sel.uris !== undefined, sel.template !== undefined, sel.match !== undefined].filter(Boolean).length;
  if (given > 1) throw new ConfigError('choose one of uris, template or match');
  checkSelection(sel);
  if (sel.uris) {
    yield* sel.uris;
    return;
  }
  let m: { prefix: string; test: (id: string) => boolean };
  if (sel.template !== undefined) {
    const exact = expandTemplate(sel.template, sel.vars);
    if (exact.bound) {
      yield* exact.uris;
      return;
    }
    m = templateMatcher(sel.template, sel.vars);
  } else if (sel.match !== undefined) {
    m = globMatcher(sel.match);
  } else {
    m = { prefix: '', test: () => true };
  }
  for await (const id of cache.scan(ns, m.prefix)) if (m.test(id)) yield id;
}

/**
 * Group a stream in arrays of `size`. Arrays are sliced and other synchronous iterables read
 * without `for await`, which would cost a microtask per element.
 */
export async function* chunks<T>(src: AsyncIterable<T> | Iterable<T>, size: number): AsyncGenerator<T[]> {
  if (Array.isArray(src)) {
    for (let i = 0; i < src.length; i += size) yield src.length <= size ? src : src.slice(i, i + size);
    return;
  }
  let buf: T[] = [];
  if (Symbol.iterator in src) {
    for (const x of src) {
      buf.push(x);
      if (buf.length >= size) {
        yield buf;
        buf = [];
      }
    }
  } else {
    for await (const x of src) {
      buf.push(x);
      if (buf.length >= size) {
        yield buf;
        buf = [];
      }
    }
  }
  if (buf.length) yield buf;
}
