// Issue #16 row 8: `fleetgate triage` prints guest text (titles, module names, reasons, notes) to a
// terminal: control characters are escaped visibly (\x1b, \x07, \x00, \x9b) in the human summary,
// and --json carries no C1 control or bidi override raw (JSON escapes C0 itself).
import t from 'tap';
import { formatTriage, triageOutput, type TriageResult } from './triage.ts';

const TERMINAL_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const HOSTILE = 'x\u001b[2J\u001b]0;owned\u0007\u0000\u009b31m\u202e\rFAKE';

const r: TriageResult = {
  kind: 'linux-console',
  file: `/tmp/console${HOSTILE}.log`,
  title: `kernel panic: ${HOSTILE}`,
  module: `mod${HOSTILE}`,
  symbol: `mod!fn${HOSTILE}`,
  bucket: `linux:mod:${HOSTILE}`,
  signatures: [`linux:${HOSTILE}`],
  attribution: 'other-vendor',
  attributionReason: `blamed module mod${HOSTILE} is neither ours`,
  warnings: [`note ${HOSTILE}`],
};

t.test('row 8 (#16): the human triage summary escapes ESC, BEL, NUL, CSI and CR', async (t) => {
  const out = formatTriage(r);
  t.notMatch(out, TERMINAL_UNSAFE, JSON.stringify(out));
  t.match(out, 'kernel panic: x\\x1b[2J\\x1b]0;owned\\x07\\x00\\x9b31m\\u202e\\x0dFAKE');
  t.equal(out.split('\n').length, formatTriage({ ...r, title: 'plain', module: 'm', symbol: 's', bucket: 'b', attributionReason: 'r', warnings: ['w'] }).split('\n').length, 'no extra lines');
  t.equal(triageOutput(r, false), out);
});

t.test('row 8 (#16): triage --json has no raw C1 or bidi control and still parses to the same text', async (t) => {
  const out = triageOutput(r, true);
  t.notMatch(out, TERMINAL_UNSAFE, JSON.stringify(out));
  t.same(JSON.parse(out), r);
});
