// Small text helpers for untrusted text where the obvious regular expression backtracks (issue #16):
// `/x+$/` tries every start in a run of x's and is quadratic on a long run that does not end the text.
// These walk the text once.

/** `text` without the run of `ch` (one character) at its end. */
export function stripEnd(text: string, ch: string): string {
  let end = text.length;
  while (end > 0 && text[end - 1] === ch) end--;
  return end === text.length ? text : text.slice(0, end);
}
