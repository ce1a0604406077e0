import { ConfigError } from './errors.js';

/**
 * Key templates: `{name}` placeholders, e.g. `https://x/users/{id}/feed`.
 * With every placeholder bound a template names exact URIs; an unbound placeholder
 * matches one or more characters other than `/`. The literal prefix before the first
 * wildcard narrows a scan through the index.
 */

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export function placeholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

/** vars: name → one value or several; the cartesian product of bound values. */
export type TemplateVars = Record<string, string | number | (string | number)[]>;

export function expandTemplate(template: string, vars: TemplateVars = {}): { uris: string[]; bound: boolean } {
  const names = [...new Set(placeholders(template))];
  for (const k of Object.keys(vars)) {
    if (!names.includes(k)) throw new ConfigError(`--var ${k}: the template has no {${k}} placeholder (it has ${names.map((n) => `{${n}}`).join(', ') || 'none'})`);
  }
  const unbound = names.filter((n) => vars[n] === undefined);
  if (unbound.length > 0) return { uris: [], bound: false };
  let out = [template];
  for (const n of names) {
    const raw = vars[n]!;
    const values = (Array.isArray(raw) ? raw : [raw]).map(String);
    out = out.flatMap((t) => values.map((v) => t.split(`{${n}}`).join(v)));
  }
  return { uris: out, bound: true };
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A matcher for a template with unbound placeholders (bound ones are substituted). */
export function templateMatcher(template: string, vars: TemplateVars = {}): { prefix: string; test: (uri: string) => boolean } {
  let re = '';
  let prefix = '';
  let literal = true;
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    const lit = template.slice(last, m.index);
    re += escapeRe(lit);
    if (literal) prefix += lit;
    const v = vars[m[1]!];
    if (v !== undefined) {
      const values = (Array.isArray(v) ? v : [v]).map(String);
      re += `(?:${values.map(escapeRe).join('|')})`;
      if (literal && values.length === 1) prefix += values[0];
      else literal = false;
    } else {
      re += '[^/]+';
      literal = false;
    }
    last = m.index! + m[0].length;
  }
  const tail = template.slice(last);
  re += escapeRe(tail);
  if (literal) prefix += tail;
  const rx = new RegExp(`^${re}$`, 's');
  return { prefix, test: (uri) => rx.test(uri) };
}

/** Glob: `*` any run of characters (including `/`), `?` one character. */
export function globMatcher(glob: string): { prefix: string; test: (uri: string) => boolean } {
  const first = glob.search(/[*?]/);
  const prefix = first < 0 ? glob : glob.slice(0, first);
  const re = glob
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : escapeRe(c)))
    .join('');
  const rx = new RegExp(`^${re}$`, 's');
  return { prefix, test: (uri) => rx.test(uri) };
}

/** Parse `k=v` pairs (repeatable keys accumulate). */
export function parseVars(pairs: string[]): TemplateVars {
  const out: Record<string, string[]> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new ConfigError(`--var "${p}" must be name=value`);
    (out[p.slice(0, i)] ??= []).push(p.slice(i + 1));
  }
  return out;
}
