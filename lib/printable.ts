// Guest text made harmless to show (issue #16 row 8). A guest's console, a dump's driver names or a
// debugger's output may hold ESC, BEL, NUL, an 8-bit CSI (U+009B) or a bidi override: written raw to a
// terminal they move the cursor, retitle the window or hide text; in Markdown or a bucket id they are
// invisible differences. Each sink neutralises once, downstream, with the one spelling below.
//
// The spelling: every character below becomes a visible escape in the JavaScript/C form,
//   `\xHH`   for U+0000–U+001F (all C0 controls, TAB, LF and CR included), U+007F and U+0080–U+009F
//            (ESC → \x1b, BEL → \x07, NUL → \x00, CSI → \x9b), hex in lower case;
//   `\uHHHH` for U+061C, U+200E, U+200F, U+2028, U+2029, U+202A–U+202E, U+2066–U+2069 (line
//            separators and bidi marks, embeddings, overrides and isolates) and lone surrogates.
// Everything else is kept, the backslash included (Windows paths stay readable): the escape is for
// showing and for stable ids, not meant to be reversed. The result holds no control character, so a
// line stays one line. Linear: one pass over the UTF-16 code units, no regular expression.

function hex(code: number, digits: number): string {
  return code.toString(16).padStart(digits, '0');
}

/** The \u-escaped characters besides C0/DEL/C1: bidi controls and line separators. */
function isInvisibleFormat(c: number): boolean {
  return c === 0x061c || c === 0x200e || c === 0x200f || (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/** The escape for UTF-16 unit `c` at `i` of `s`, or null when it is kept as it is. */
function escapeAt(s: string, i: number, c: number): string | null {
  if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return `\\x${hex(c, 2)}`;
  if (c < 0x061c) return null;
  if (isInvisibleFormat(c)) return `\\u${hex(c, 4)}`;
  if (c >= 0xd800 && c <= 0xdbff) {
    const next = s.charCodeAt(i + 1);
    return next >= 0xdc00 && next <= 0xdfff ? null : `\\u${hex(c, 4)}`;
  }
  if (c >= 0xdc00 && c <= 0xdfff) {
    const prev = i > 0 ? s.charCodeAt(i - 1) : 0;
    return prev >= 0xd800 && prev <= 0xdbff ? null : `\\u${hex(c, 4)}`;
  }
  return null;
}

/** `text` with every control, bidi and line-separator character as a visible escape (above). */
export function escapeControls(text: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const esc = escapeAt(text, i, text.charCodeAt(i));
    if (esc === null) continue;
    out += text.slice(from, i) + esc;
    from = i + 1;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** True when escapeControls would change `text`. */
export function hasControls(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (escapeAt(text, i, text.charCodeAt(i)) !== null) return true;
  return false;
}

/**
 * JSON text (from JSON.stringify) safe for a terminal: JSON already escapes C0 and lone surrogates,
 * but not DEL, C1 (U+009B is a CSI to many terminals) or bidi controls; those become \uHHHH, which
 * parses back to the same string. Only valid on JSON.stringify output, where such characters can only
 * stand inside strings.
 */
export function jsonForTerminal(json: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (!((c >= 0x7f && c <= 0x9f) || isInvisibleFormat(c))) continue;
    out += `${json.slice(from, i)}\\u${hex(c, 4)}`;
    from = i + 1;
  }
  return from === 0 ? json : out + json.slice(from);
}
