// A Windows crash as a CrashReport, from what there is instead of console text: the bugcheck the
// hypervisor recorded (event 18590's code and parameters) and the dumps the guest wrote and gave back.
// The title is stable across runs of the same bug: the stop code, its name, the verifier subcode where
// the code has one, and the driver the dump blames; never addresses.
import { basename } from 'node:path';
import { escapeControls } from '../../../lib/printable.ts';
import { baseBugcheckCode, bugcheckName, bugcheckSubcode, formatBugcheckCode, verifierSubcode } from '../bugchecks.ts';
import type { CrashReport } from '../types.ts';
import { looksLikeDump, readKernelDump, type KernelDump } from './dump.ts';
import { fileHead } from './reader.ts';


/** The kernel dumps among `files` that read, with the reason each other dump did not. */
export async function readDumps(files: readonly string[]): Promise<{ dumps: KernelDump[]; unreadable: string[] }> {
  const dumps: KernelDump[] = [];
  const unreadable: string[] = [];
  for (const f of files) {
    try {
      if (!looksLikeDump(await fileHead(f, 8))) continue;
      dumps.push(await readKernelDump(f));
    } catch (err) {
      unreadable.push(`${basename(f)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { dumps, unreadable };
}

/** Without extension and lower case, as attribution compares modules (`fgfilter.sys` → `fgfilter`). */
function moduleName(driver: string): string {
  return driver.replace(/\.(sys|dll|exe)$/i, '').toLowerCase();
}

/**
 * The report of a bugcheck: from the hypervisor's code and parameters when there are, else from the
 * dump; the blamed driver from the dump with the same stop code (a dump of another crash says nothing
 * about this one). Null when neither says what stopped the system.
 */
export async function windowsCrashReport(recorded: { code: string; params: readonly string[] } | undefined, files: readonly string[]): Promise<CrashReport | null> {
  const { dumps } = await readDumps(files);
  const recordedCode = recorded ? Number.parseInt(recorded.code.replace(/^0x/i, ''), 16) : undefined;
  const sameCrash = dumps.find((d) => recordedCode !== undefined && baseBugcheckCode(d.bugcheck.code) === baseBugcheckCode(recordedCode));
  const dump = recordedCode === undefined ? dumps[0] : sameCrash;
  const code = recordedCode ?? dump?.bugcheck.code;
  if (code === undefined || !Number.isFinite(code)) return null;
  const params = recorded?.params ?? dump?.bugcheck.params ?? [];
  let title = `${formatBugcheckCode(code)} ${bugcheckName(code)}`;
  const sub = bugcheckSubcode(code, params);
  if (sub !== undefined) {
    const meaning = baseBugcheckCode(code) === 0xc4 ? verifierSubcode(sub)?.description : undefined;
    title += ` (${sub}${meaning ? `: ${meaning}` : ''})`;
  }
  const blamed = dump?.blamed?.name;
  if (blamed) title += ` in ${moduleName(blamed)}`;
  // The blamed name is the dump's (guest data): the title from printable characters only (#16 row 8).
  return { kind: 'BUGCHECK', title: escapeControls(title), ...(blamed ? { module: moduleName(blamed) } : {}), frames: [], startLine: 0, endLine: 0, corrupted: false };
}
