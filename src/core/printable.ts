/**
 * Text from the data (URIs, operation names, error messages) made safe for a terminal:
 * nothing in it is interpreted, so a URI never forges a log line, moves the cursor,
 * recolours the screen or reorders the text around it. Escaped: C0 controls and DEL (`\n`,
 * `\r`, `\t` by name, the others `\xNN`), C1 controls (`\x9b`: a one-byte CSI), the line and
 * paragraph separators and the bidi embeddings, overrides and isolates (`\u2028`, `\u202e`).
 * Backslashes are left alone, so escaping twice changes nothing.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

const escape = (c: string) => {
  const n = c.charCodeAt(0);
  return NAMED[c] ?? (n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`);
};

export function printable(s: string): string {
  return s.replace(UNSAFE, escape);
}

// JSON.stringify escapes C0 controls itself; these it leaves raw.
// eslint-disable-next-line no-control-regex
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON text (from JSON.stringify) safe for a terminal and still the same JSON: the
 * characters JSON.stringify leaves raw become `\uXXXX` escapes (they can only stand inside
 * strings, where such an escape means the same character).
 */
export function printableJson(json: string): string {
  return json.replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
