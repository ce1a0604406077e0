/**
 * Summarise a `node --cpu-prof` profile: self time per function and per package/file,
 * so bench/README.md can say where the time goes.
 *
 *   node --cpu-prof --cpu-prof-dir=bench/results/prof --import tsx bench/redis.ts hits
 *   node --import tsx bench/cpuprofile.ts bench/results/prof/CPU.*.cpuprofile [top=25]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: bench/cpuprofile.ts FILE.cpuprofile [top]\n');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);

const shortUrl = (url: string) => {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 13);
  const i = url.indexOf('/src/');
  if (i >= 0) return url.slice(i + 1);
  const b = url.indexOf('/bench/');
  if (b >= 0) return url.slice(b + 1);
  return url.replace(/^file:\/\//, '');
};
const pkgOf = (url: string) => {
  if (!url) return '(native/gc/idle)';
  if (url.startsWith('node:')) return 'node core';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const m = /\/(src\/core\/[^?]*|bench\/[^?]*|src\/[^?]*)/.exec(url);
  return m ? m[1]! : url;
};

const fns = new Map<string, number>();
const pkgs = new Map<string, number>();
for (const [id, t] of self) {
  const n = byId.get(id)!;
  const { functionName, url, lineNumber } = n.callFrame;
  const name = `${functionName || '(anonymous)'} ${shortUrl(url)}${url ? `:${lineNumber + 1}` : ''}`;
  fns.set(name, (fns.get(name) ?? 0) + t);
  pkgs.set(pkgOf(url), (pkgs.get(pkgOf(url)) ?? 0) + t);
}
const pct = (t: number) => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
const print = (title: string, m: Map<string, number>, n: number) => {
  process.stdout.write(`\n${title} (total ${(total / 1000).toFixed(0)} ms)\n`);
  for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) process.stdout.write(`${pct(t)}  ${(t / 1000).toFixed(0).padStart(6)} ms  ${k}\n`);
};
print('self time by package / file', pkgs, 15);
print('self time by function', fns, top);

// `CALLERS=name` also lists who calls the functions of that name (self time under each caller).
const want = process.env.CALLERS;
if (want) {
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const callers = new Map<string, number>();
  for (const [id, t] of self) {
    if (byId.get(id)!.callFrame.functionName !== want) continue;
    const chain: string[] = [];
    let p = parent.get(id);
    for (let d = 0; d < 4 && p !== undefined; d++, p = parent.get(p)) {
      const f = byId.get(p)!.callFrame;
      chain.push(`${f.functionName || '(anon)'}@${shortUrl(f.url)}`);
    }
    const k = chain.join(' < ');
    callers.set(k, (callers.get(k) ?? 0) + t);
  }
  print(`callers of ${want}`, callers, 10);
}

// `INCLUSIVE=1` also lists total time (self + callees) per function, each sample counted once per function.
if (process.env.INCLUSIVE) {
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map<string, number>();
  for (const [id, t] of self) {
    const seen = new Set<string>();
    for (let p: number | undefined = id; p !== undefined; p = parent.get(p)) {
      const f = byId.get(p)!.callFrame;
      const k = `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}`;
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + t);
    }
  }
  print('total time by function (self + callees)', incl, Number(process.env.INCLUSIVE) > 1 ? Number(process.env.INCLUSIVE) : 40);
}

// `UNDER=name` lists self time of functions called (at any depth) under functions of that name.
const under = process.env.UNDER;
if (under) {
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const m = new Map<string, number>();
  for (const [id, t] of self) {
    let hit = false;
    for (let p: number | undefined = id; p !== undefined; p = parent.get(p)) if (byId.get(p)!.callFrame.functionName === under) hit = true;
    if (!hit) continue;
    const f = byId.get(id)!.callFrame;
    const k = `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}`;
    m.set(k, (m.get(k) ?? 0) + t);
  }
  print(`self time under ${under}`, m, 20);
}
