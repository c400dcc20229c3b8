// The bugcheck table: every code the brief and reference §6 name, _M variants, 0xC4 subcodes.
import t from 'tap';
import { baseBugcheckCode, bugcheckName, bugcheckSubcode, describeParams, formatBugcheckCode, isVerifierStopCode, KNOWN_BUGCHECKS, lookupBugcheck, verifierSubcode } from './bugchecks.ts';

const REQUIRED = [0x0a, 0x1e, 0x3b, 0x50, 0x7e, 0x1000007e, 0x80, 0x9f, 0xc1, 0xc2, 0xc4, 0xc9, 0xd1, 0xea, 0xef, 0xf5, 0x133, 0x139, 0x13a, 0x19, 0x20, 0x39, 0xe3];

t.test('every required code has a name and four parameter meanings', async (t) => {
  for (const code of REQUIRED) {
    const b = lookupBugcheck(code);
    t.ok(b, formatBugcheckCode(code));
    t.equal(b?.params.length, 4);
  }
  t.equal(new Set(KNOWN_BUGCHECKS.map((b) => b.code)).size, KNOWN_BUGCHECKS.length, 'no duplicate codes');
});

t.test('names, _M variants', async (t) => {
  t.equal(bugcheckName(0xc4), 'DRIVER_VERIFIER_DETECTED_VIOLATION');
  t.equal(bugcheckName(0xf5), 'FLTMGR_FILE_SYSTEM');
  t.equal(bugcheckName(0x1000007e), 'SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M');
  t.equal(bugcheckName(0x1000000a), 'IRQL_NOT_LESS_OR_EQUAL_M');
  t.equal(baseBugcheckCode(0x1000007e), 0x7e);
  t.equal(lookupBugcheck(0x1000007e)?.variantM, true);
  t.equal(lookupBugcheck(0x1000007e)?.addressParam, 2);
  t.equal(bugcheckName(0x12345), 'UNKNOWN_BUGCHECK_0x12345');
  t.equal(baseBugcheckCode(0x10000999), 0x10000999, 'unknown base: code kept');
  t.equal(formatBugcheckCode(0x1000007e), '0x1000007E');
});

t.test('subcodes and 0xC4 parameter 1', async (t) => {
  t.equal(bugcheckSubcode(0xc4, ['0x62', '0x1', '0x2', '0x3']), '0x62');
  t.equal(bugcheckSubcode(0xc1, ['0x1', '0x0', '0x0', '0x24']), '0x24', '0xC1: parameter 4');
  t.equal(bugcheckSubcode(0x7e, ['0xc0000005']), undefined);
  t.equal(bugcheckSubcode(0xc4, []), undefined);
  t.equal(verifierSubcode('0x0')?.description, 'zero-byte allocation');
  t.match(verifierSubcode('0x62')?.description, /leak/);
  t.match(verifierSubcode(0x13n)?.description, /double free/);
  t.equal(verifierSubcode('0x1005')?.description, 'deadlock detection');
  t.equal(verifierSubcode('0x2003')?.description, 'code integrity');
  t.match(verifierSubcode('0x20005')?.description, /DDI compliance rule 0x20005/);
  t.match(verifierSubcode('0x40003')?.description, /DDI compliance/);
  t.equal(verifierSubcode('0x777'), undefined);
  t.equal(verifierSubcode('zz'), undefined);
  t.match(describeParams(0xc4, ['0x62', '0x1', '0x2', '0x3'])[0], /^0x62 \(driver unloaded/);
});

t.test("Driver Verifier's stop codes, and the live dump it writes without one", async (t) => {
  for (const c of [0xc4, 0xc1, 0xc6, 0xc7, 0xc9, 0xd5, 0xd6, 0xe6, 0x1c4]) t.equal(isVerifierStopCode(c), true, formatBugcheckCode(c));
  for (const c of [0xd1, 0x50, 0x1000007e, 0x139, 0x3b]) t.equal(isVerifierStopCode(c), false, formatBugcheckCode(c));
});
