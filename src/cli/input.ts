/**
 * Streaming input for `submit`, `run` and `warm`: one URI a line (with `--op`), or JSON
 * lines `{"op","uri","cbArgs","kwargs"}`. Blank lines are skipped and whitespace trimmed.
 * A line starting with `{` or `[` is JSON (and must be an object); one starting with `"`
 * is a JSON string holding the URI (for URIs with leading spaces or newlines).
 * A bad line becomes an `InputError` naming its line number; the lines around it are still
 * read. Memory stays flat: lines are yielded as they are read (readline).
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
export async function* parseLines(lines: AsyncIterable<string> | Iterable<string>, o: ParseOptions = {}): AsyncGenerator<InputItem> {
  let n = 0;
  for await (const raw of lines) {
    n++;
    const text = raw.trim();
    if (text === '') continue;
    yield parseLine(text, n, o);
  }
}

/** Lines of a readable stream (LF or CRLF), read as they come. */
export function readLines(stream: Readable): AsyncIterable<string> {
  stream.setEncoding?.('utf8');
  return createInterface({ input: stream, crlfDelay: Infinity });
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
export async function* countBytes(lines: AsyncIterable<string>, count: { bytes: number }): AsyncGenerator<string> {
  for await (const l of lines) {
    count.bytes += Buffer.byteLength(l) + 1;
    yield l;
  }
}

/** One JSON object of template variables a line (`warm --template`). */
export async function* parseVarLines(lines: AsyncIterable<string>): AsyncGenerator<{ ok: true; vars: Record<string, string>; line: number } | { ok: false; error: InputError }> {
  let n = 0;
  for await (const raw of lines) {
    n++;
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
