// Bounds on untrusted text (tool output, consoles, guest results, INF, CVRF): every reader cuts its
// input to a named size and line length before it looks at it, and says so when it did. A reader that
// quietly read half of a file would present a half answer as a whole one.
//
// The limits themselves live with each reader (named constants, listed in docs/limits.md); this file
// only does the cutting and the telling.

export interface TextBounds {
  /** Characters kept from the start of the input (UTF-16 code units, as JavaScript counts them). */
  maxChars: number;
  /** Characters kept from the start of each line; the rest of a longer line is dropped. */
  maxLineChars: number;
}

export interface Truncation {
  /** What was cut, for a person: "kd output: 2,400,000 characters, kept the first 1,048,576". */
  note: string;
  inputChars: number;
  keptChars: number;
  /** Lines longer than maxLineChars (each cut to it). */
  longLines: number;
}

export interface BoundedText {
  text: string;
  /** null when the input was within its bounds and is read whole. */
  truncated: Truncation | null;
}

const fmt = (n: number): string => n.toLocaleString('en-US');

/**
 * Cuts `text` to `bounds` in one pass (linear in the input). `what` names the input in the note
 * ("fltmc filters output", "console log of cell 3f2a").
 */
export function boundText(what: string, text: string, bounds: TextBounds): BoundedText {
  const inputChars = text.length;
  let body = inputChars > bounds.maxChars ? text.slice(0, bounds.maxChars) : text;
  let longLines = 0;
  if (body.length > bounds.maxLineChars) {
    const parts: string[] = [];
    let start = 0;
    let changed = false;
    while (start <= body.length) {
      let end = body.indexOf('\n', start);
      if (end < 0) end = body.length;
      if (end - start > bounds.maxLineChars) {
        parts.push(body.slice(start, start + bounds.maxLineChars));
        longLines++;
        changed = true;
      } else {
        parts.push(body.slice(start, end));
      }
      start = end + 1;
    }
    if (changed) body = parts.join('\n');
  }
  if (inputChars <= bounds.maxChars && longLines === 0) return { text, truncated: null };
  const said: string[] = [];
  if (inputChars > bounds.maxChars) said.push(`${fmt(inputChars)} characters, read the first ${fmt(bounds.maxChars)}`);
  if (longLines > 0) said.push(`${fmt(longLines)} line(s) longer than ${fmt(bounds.maxLineChars)} characters, each cut to that length`);
  return {
    text: body,
    truncated: { note: `${what} truncated: ${said.join('; ')}`, inputChars, keptChars: body.length, longLines },
  };
}
