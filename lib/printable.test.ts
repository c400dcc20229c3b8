// lib/printable.ts (issue #16 row 8): the one spelling of neutralised guest text, and its properties
// over any string (fast-check, fixed seed).
import t from 'tap';
import fc from 'fast-check';
import { escapeControls, hasControls, jsonForTerminal } from './printable.ts';

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

t.test('row 8 (#16): ESC, BEL, NUL, CSI, CR/LF, DEL, bidi and lone surrogates become visible escapes', async (t) => {
  t.equal(escapeControls('a\u001b[31mb\u0007c\u0000d'), 'a\\x1b[31mb\\x07c\\x00d');
  t.equal(escapeControls('\u009b2J\u007f\r\n\t'), '\\x9b2J\\x7f\\x0d\\x0a\\x09');
  t.equal(escapeControls('\u202eevil\u2066\u2028'), '\\u202eevil\\u2066\\u2028');
  t.equal(escapeControls('x\ud800y\udc00'), 'x\\ud800y\\udc00');
  t.equal(escapeControls('ok 😀 é C:\\Windows'), 'ok 😀 é C:\\Windows', 'printable text, pairs and backslashes are kept');
  t.ok(hasControls('a\u0007'));
  t.notOk(hasControls('plain'));
});

t.test('row 8 (#16): any string: no unsafe character out, unchanged when there was none', async (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
      const out = escapeControls(s);
      if (UNSAFE.test(out) || LONE_SURROGATE.test(out)) return false;
      if (hasControls(s) !== (out !== s)) return false;
      return escapeControls(out) === out;
    }),
    { seed: 1616, numRuns: 2000 },
  );
  t.pass('2000 strings');
});

t.test('row 8 (#16): jsonForTerminal keeps JSON that parses to the same value, without raw C1/bidi', async (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
      const out = jsonForTerminal(JSON.stringify({ s }, null, 2));
      return !UNSAFE.test(out.replace(/\n/g, '')) && JSON.parse(out).s === s;
    }),
    { seed: 1616, numRuns: 2000 },
  );
  t.pass('2000 strings');
});
