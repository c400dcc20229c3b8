// Buckets: the same bug seen by a hypervisor event, a dump header and a debugger analysis joins one
// bucket; attribution from our module list; the lab's Linux reports in the same model.
import t from 'tap';
import { bucketCrash, bucketLinuxReport, bucketsMatch, evidenceFromDump, evidenceFromEvent, evidenceFromKd, normalizeModule, sameCrash } from './bucket.ts';
import type { CrashReport } from './types.ts';
import { parseKernelDumpBuffer } from './windows/dump.ts';
import { parseHyperVEvent18590 } from './windows/events.ts';
import { parseKdAnalysis } from './windows/kd.ts';
import { triageDump } from './windows/testdata/build-dump.ts';

const cfg = { ours: ['MyFilter.sys'] };
const P: [bigint, bigint, bigint, bigint] = [0x62n, 0xffffd407b3ac53a0n, 0xffffd407b3ccbee0n, 3n];

t.test('one 0xC4/0x62 leak seen three ways lands in one bucket', async (t) => {
  const hv = bucketCrash(evidenceFromEvent(parseHyperVEvent18590("'vm' has encountered a fatal error.  ... ErrorCode0: 0xC4, ErrorCode1: 0x62, ErrorCode2: 0xFFFFD407B3AC53A0, ErrorCode3: 0xFFFFD407B3CCBEE0, ErrorCode4: 0x3.")!), cfg);
  const dump = bucketCrash(
    evidenceFromDump(
      await parseKernelDumpBuffer('t.dmp', triageDump({ code: 0xc4, params: P, brokenIndex: 1, drivers: [
        { path: '\\SystemRoot\\system32\\ntoskrnl.exe', base: 0xfffff80000000000n, size: 0x100000, timestamp: 1 },
        { path: '\\SystemRoot\\System32\\drivers\\myfilter.sys', base: 0xfffff80010000000n, size: 0x20000, timestamp: 2 },
      ] })),
    ),
    cfg,
  );
  const kd = bucketCrash(
    evidenceFromKd(parseKdAnalysis(['DRIVER_VERIFIER_DETECTED_VIOLATION (c4)', 'Arguments:', 'Arg1: 0000000000000062, leak', 'Arg2: ffffd407b3ac53a0, name', 'Arg3: ffffd407b3ccbee0, x', 'Arg4: 0000000000000003, n', '', 'SYMBOL_NAME:  myfilter!FilterUnload+2a', 'MODULE_NAME: myfilter', 'IMAGE_NAME:  myfilter.sys', 'FAILURE_BUCKET_ID:  0xc4_62_LEAKED_POOL_IMAGE_myfilter.sys'].join('\n'))),
    cfg,
  );
  t.equal(hv.id, 'win:0xC4/0x62', 'hypervisor: code and subcode only');
  t.equal(dump.id, 'win:0xC4/0x62:myfilter', 'dump: plus the blamed driver');
  t.equal(kd.id, 'win:0xC4/0x62:myfilter', 'kd: same primary');
  t.ok(kd.alternatives.includes('win:0xC4/0x62:myfilter!FilterUnload'), 'kd keeps the symbol as an alternative');
  t.ok(bucketsMatch(hv, dump) && bucketsMatch(hv, kd) && bucketsMatch(dump, kd), 'all three join');
  t.ok(sameCrash(hv, dump) && sameCrash(dump, kd), 'same code and parameters: one crash');
  t.same([hv.attribution, dump.attribution, kd.attribution], ['unknown', 'ours', 'ours']);
  t.equal(dump.subcode, '0x62');
  t.equal(kd.codeName, 'DRIVER_VERIFIER_DETECTED_VIOLATION');
});

t.test('different modules or subcodes do not join; _M and base code do', async (t) => {
  const a = bucketCrash({ kind: 'dump', code: 0xc4, params: ['0x62', '0x0', '0x0', '0x1'], module: 'myfilter.sys' }, cfg);
  const b = bucketCrash({ kind: 'dump', code: 0xc4, params: ['0x62', '0x0', '0x0', '0x1'], module: 'otherav.sys' }, cfg);
  const c = bucketCrash({ kind: 'dump', code: 0xc4, params: ['0x13', '0x0', '0x0', '0x1'], module: 'myfilter.sys' }, cfg);
  t.notOk(bucketsMatch(a, b));
  t.notOk(bucketsMatch(a, c));
  t.equal(b.attribution, 'other-vendor');
  const m = bucketCrash({ kind: 'dump', code: 0x1000007e, params: ['0xffffffffc0000005', '0x1', '0x2', '0x3'], module: 'fltmgr.sys' }, cfg);
  const k = bucketCrash({ kind: 'kd', code: 0x7e, params: ['0xffffffffc0000005', '0x1', '0x2', '0x3'], module: 'fltmgr' }, cfg);
  t.equal(m.id, 'win:0x7E:fltmgr');
  t.ok(bucketsMatch(m, k));
  t.equal(m.attribution, 'windows');
});

t.test('attribution: a Windows module blamed with our frame on the stack is ours; kernel aliases fold', async (t) => {
  const b = bucketCrash({ kind: 'kd', code: 0x19, params: ['0x22', '0x0', '0x4', '0x0'], module: 'nt', function: 'ExFreePoolWithTag', frames: [{ module: 'nt', function: 'KeBugCheckEx' }, { module: 'MyFilter', function: 'PostCreate' }] }, cfg);
  t.equal(b.attribution, 'ours');
  t.equal(b.ourFrame, 'myfilter!PostCreate');
  t.ok(b.alternatives.includes('win:0x19/0x22:ours=myfilter!PostCreate'));
  t.equal(bucketCrash({ kind: 'kd', code: 0x19, params: [], module: 'nt' }, cfg).attribution, 'windows');
  t.equal(bucketCrash({ kind: 'hypervisor', code: 0x80, params: ['0x0', '0x0', '0x0', '0x0'] }, cfg).attribution, 'unknown');
  t.same(['ntoskrnl.exe', 'ntkrnlmp', 'NT', '\\SystemRoot\\system32\\ntoskrnl.exe', 'FLTMGR.SYS'].map(normalizeModule), ['nt', 'nt', 'nt', 'nt', 'fltmgr']);
  t.equal(bucketCrash({ kind: 'kd', code: 0x50, params: [], module: 'acme' }, { ours: [], microsoft: ['acme'] }).attribution, 'windows', 'configurable Microsoft list');
});

t.test('Linux CrashReport maps into the same model', async (t) => {
  const report: CrashReport = {
    kind: 'OOPS',
    title: 'BUG: kernel NULL pointer dereference in fg_pre_create',
    module: 'fleetgate_lab',
    function: 'fg_pre_create',
    frames: [{ function: 'fg_pre_create', offset: '0x1a', module: 'fleetgate_lab' }, { function: 'do_sys_openat2' }],
    startLine: 1,
    endLine: 20,
    corrupted: false,
  };
  const ours = bucketLinuxReport(report, { ours: ['fleetgate_lab'] });
  t.equal(ours.id, 'linux:fleetgate_lab:BUG: kernel NULL pointer dereference in fg_pre_create');
  t.ok(ours.alternatives.includes('linux:BUG: kernel NULL pointer dereference in fg_pre_create'));
  const partner = bucketLinuxReport({ ...report, module: 'partnerflt', frames: [{ function: 'fg_pre_create', module: 'partnerflt' }] }, { ours: ['fleetgate_lab'] });
  t.not(partner.id, ours.id, 'the same function in the partner build is another bucket');
  t.equal(ours.module, 'fleetgate_lab');
  t.equal(ours.attribution, 'ours');
  t.ok(ours.alternatives.includes('linux:fleetgate_lab'));
  t.equal(bucketLinuxReport(report, { ours: [] }).attribution, 'other-vendor');
  const kernel = bucketLinuxReport({ ...report, module: undefined, frames: [{ function: 'panic' }] } as CrashReport, { ours: ['fleetgate_lab'] });
  t.equal(kernel.attribution, 'unknown');
});
