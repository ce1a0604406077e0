/**
 * Streaming input for `submit`, `run` and `warm`: one URI a line (with `--op`), or JSON
 * lines `{"op","uri","cbArgs","kwargs"}`. Blank lines are skipped and whitespace trimmed.
 * A line starting with `{` or `[` is JSON (and must be an object); one starting with `"`
 * is a JSON string holding the URI (for URIs with leading spaces or newlines).
 * A bad line (also one whose bytes are not UTF-8 or hold a NUL) becomes an `InputError`
 * naming its line number; the lines around it are still read. Memory stays flat: lines are
 * yielded as they are read.
 */
import { createReadStream, fstatSync, ReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { ConfigError } from '../core/errors.js';

export interface InputRequest {
  op: string;
  uri: string;
  cbArgs?: unknown;
  kwargs?: Record<string, unknown>;
  /** 1-based line number in the input. */
  line: number;
}

export interface InputError {
  line: number;
  message: string;
}

export type InputItem = { ok: true; req: InputRequest } | { ok: false; error: InputError };

export interface ParseOptions {
  /** Operation for plain URI lines, and the default for JSON lines without "op". */
  op?: string;
  /** Defaults for every line (a JSON line's own cbArgs win; its kwargs are merged over these). */
  cbArgs?: unknown;
  kwargs?: Record<string, unknown>;
  /** Extra check of a parsed request (e.g. unknown operation); returns an error message. */
  validate?: (req: InputRequest) => string | undefined;
}

const preview = (s: string) => (s.length > 60 ? `${s.slice(0, 57)}...` : s);

function plainRequest(op: string, uri: string, line: number, o: ParseOptions): InputRequest {
  const req: InputRequest = { op, uri, line };
  if (o.cbArgs !== undefined) req.cbArgs = o.cbArgs;
  if (o.kwargs) req.kwargs = { ...o.kwargs };
  return req;
}

/** Parse one line (already known to be non-blank after trimming). */
export function parseLine(text: string, line: number, o: ParseOptions): InputItem {
  const fail = (message: string): InputItem => ({ ok: false, error: { line, message: `line ${line}: ${message}` } });
  let req: InputRequest;
  if (text.startsWith('"')) {
    // A JSON string is a URI with any characters (leading spaces, newlines…).
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      return fail(`not a valid JSON string (${(e as Error).message.split('\n')[0]}): ${preview(text)}`);
    }
    if (typeof v !== 'string' || v === '') return fail('a quoted URI must be a non-empty JSON string');
    if (o.op === undefined) return fail(`a plain URI needs --op (or write JSON lines {"op","uri"}): ${preview(text)}`);
    req = plainRequest(o.op, v, line, o);
  } else if (text.startsWith('{') || text.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      return fail(`not valid JSON (${(e as Error).message.split('\n')[0]}): ${preview(text)}`);
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) return fail('a JSON line must be an object {"op","uri","cbArgs","kwargs"}');
    const obj = v as Record<string, unknown>;
    if (typeof obj.uri !== 'string' || obj.uri.length === 0) return fail('"uri" must be a non-empty string');
    const op = obj.op ?? o.op;
    if (op === undefined) return fail('no operation: add "op" to the line or pass --op');
    if (typeof op !== 'string') return fail('"op" must be a string');
    if (obj.kwargs !== undefined && (obj.kwargs === null || typeof obj.kwargs !== 'object' || Array.isArray(obj.kwargs))) return fail('"kwargs" must be a JSON object');
    req = { op, uri: obj.uri, line };
    const cbArgs = 'cbArgs' in obj ? obj.cbArgs : o.cbArgs;
    if (cbArgs !== undefined) req.cbArgs = cbArgs;
    const kwargs = obj.kwargs || o.kwargs ? { ...o.kwargs, ...(obj.kwargs as Record<string, unknown> | undefined) } : undefined;
    if (kwargs) req.kwargs = kwargs;
  } else {
    if (o.op === undefined) return fail(`a plain URI needs --op (or write JSON lines {"op","uri"}): ${preview(text)}`);
    req = plainRequest(o.op, text, line, o);
  }
  const err = o.validate?.(req);
  return err ? fail(err) : { ok: true, req };
}

/** Parse a stream of lines; blank lines are skipped, each line is trimmed. */
export async function* parseLines(lines: AsyncIterable<RawLine> | Iterable<RawLine>, o: ParseOptions = {}): AsyncGenerator<InputItem> {
  let n = 0;
  for await (const raw of lines) {
    n++;
    if (typeof raw !== 'string') {
      yield { ok: false, error: { line: n, message: `line ${n}: ${raw.bad}` } };
      continue;
    }
    const text = raw.trim();
    if (text === '') continue;
    yield parseLine(text, n, o);
  }
}

/** A line that cannot be a request, whatever its content: its bytes are not text. */
export interface BadLine {
  bad: string;
  /** Its length in bytes (for progress by bytes read). */
  bytes: number;
}

export type RawLine = string | BadLine;

const LF = 0x0a;
const CR = 0x0d;

/**
 * Lines of a readable stream (LF, CRLF or a lone CR, as readline), read as they come. Each
 * line is decoded on its own, from its complete bytes, so a character split across two
 * chunks is fine; a line that is not valid UTF-8 or holds a NUL byte is a `BadLine` (never
 * U+FFFD characters in a URI).
 */
export async function* readLines(stream: Readable): AsyncGenerator<RawLine> {
  // The unfinished line: the chunks read since the last LF (joined once its LF comes).
  let rest: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const c = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const cut = c.lastIndexOf(LF);
    if (cut < 0) {
      rest.push(c);
      continue;
    }
    const buf = rest.length ? Buffer.concat([...rest, c]) : c;
    const last = buf.length - c.length + cut;
    rest = last + 1 < buf.length ? [buf.subarray(last + 1)] : [];
    // Every line of the chunk but the unfinished last one (a CR of its final CRLF dropped).
    const body = buf.subarray(0, last > 0 && buf[last - 1] === CR ? last - 1 : last);
    // Fast path, the usual case: the whole body is text; split it as readline does.
    if (!body.includes(0)) {
      const text = body.toString('utf8');
      if (!text.includes('\uFFFD')) {
        for (const line of text.split(/\r\n|\r|\n/)) yield line;
        continue;
      }
    }
    let start = 0;
    for (let i = body.indexOf(LF); ; i = body.indexOf(LF, start)) {
      yield* crLines(body.subarray(start, i < 0 ? body.length : i));
      if (i < 0) break;
      start = i + 1;
    }
  }
  if (rest.length) yield* crLines(Buffer.concat(rest));
}

/** One LF-terminated piece: a CRLF's CR dropped, a lone CR inside it ends a line too. */
function* crLines(piece: Buffer): Generator<RawLine> {
  if (piece.length && piece[piece.length - 1] === CR) piece = piece.subarray(0, -1);
  let start = 0;
  for (let i = piece.indexOf(CR); i >= 0; i = piece.indexOf(CR, start)) {
    yield decodeLine(piece.subarray(start, i));
    start = i + 1;
  }
  yield decodeLine(start ? piece.subarray(start) : piece);
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeLine(b: Buffer): RawLine {
  if (b.includes(0)) return { bad: 'contains a NUL byte', bytes: b.length };
  const text = b.toString('utf8');
  // Invalid bytes decode to U+FFFD; only then is the strict decoder needed (U+FFFD itself is valid).
  if (!text.includes('\uFFFD')) return text;
  try {
    return utf8.decode(b);
  } catch {
    return { bad: 'not valid UTF-8', bytes: b.length };
  }
}

/**
 * The input of a command: FILE, or stdin when FILE is absent or `-`. A FILE that cannot be
 * read is a usage error (exit 2).
 */
export async function openInput(file: string | undefined, stdin: Readable = process.stdin): Promise<Readable> {
  if (file === undefined || file === '-') return stdin;
  // A directory opens fine and fails only at the first read (EISDIR): refuse it up front.
  const st = await stat(file).catch(() => undefined);
  if (st?.isDirectory()) throw new ConfigError(`cannot read ${file}: it is a directory; give a file of URIs (or - for stdin)`);
  const s = createReadStream(file);
  await new Promise<void>((resolve, reject) => {
    s.once('open', () => resolve());
    s.once('error', (e) => reject(new ConfigError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : e.message}`)));
  });
  return s;
}

/** The size in bytes of an input, when it is known: a regular file opened by `openInput`; undefined for stdin, pipes and FIFOs. */
export function inputSize(input: Readable): number | undefined {
  const fd = (input as { fd?: unknown }).fd;
  if (!(input instanceof ReadStream) || typeof fd !== 'number') return undefined;
  const st = fstatSync(fd);
  return st.isFile() && st.size > 0 ? st.size : undefined;
}

/** The lines of `lines`, adding the bytes of each one taken (and its newline) to `count.bytes`. */
export async function* countBytes(lines: AsyncIterable<RawLine>, count: { bytes: number }): AsyncGenerator<RawLine> {
  for await (const l of lines) {
    count.bytes += (typeof l === 'string' ? Buffer.byteLength(l) : l.bytes) + 1;
    yield l;
  }
}

/** One JSON object of template variables a line (`warm --template`). */
export async function* parseVarLines(lines: AsyncIterable<RawLine>): AsyncGenerator<{ ok: true; vars: Record<string, string>; line: number } | { ok: false; error: InputError }> {
  let n = 0;
  for await (const raw of lines) {
    n++;
    if (typeof raw !== 'string') {
      yield { ok: false, error: { line: n, message: `line ${n}: ${raw.bad}` } };
      continue;
    }
    const text = raw.trim();
    if (text === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      yield { ok: false, error: { line: n, message: `line ${n}: not valid JSON (${(e as Error).message.split('\n')[0]}): ${preview(text)}` } };
      continue;
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) {
      yield { ok: false, error: { line: n, message: `line ${n}: expected a JSON object of template variables, e.g. {"id":"42"}` } };
      continue;
    }
    const vars: Record<string, string> = {};
    let bad: string | undefined;
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') vars[k] = String(x);
      else bad = k;
    }
    if (bad !== undefined) yield { ok: false, error: { line: n, message: `line ${n}: variable "${bad}" must be a string or a number` } };
    else yield { ok: true, vars, line: n };
  }
}
