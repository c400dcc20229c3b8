// The classic "billion laughs" YAML alias bomb for the tests and benchmarks of issue #16 row 4: 9 levels
// of 9 aliases each, 9^9 scalars once expanded, from a document of under 400 bytes.
export function aliasBomb(): string {
  let text = 'a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n';
  let prev = 'a';
  for (const name of 'bcdefghi') {
    text += `${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]\n`;
    prev = name;
  }
  return text;
}
