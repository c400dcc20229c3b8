// `fleetgate triage FILE [--json] [--ours NAME,...]`: which bugcheck, which driver, is it ours.
// FILE is a Windows kernel dump (told by its signature), the text of a kernel debugger's
// `!analyze -v` (told by its markers), or else a Linux serial console log from the lab guest.
import { analyzeOnHost, loadAnalysisHost } from '../../guest/windows/analysis-host.ts';
import { connectSsh } from '../../guest/ssh/client.ts';
import { windowsRemoteSha256 } from '../../guest/windows/windows-guest.ts';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../../lib/errors.ts';
import { escapeControls, jsonForTerminal } from '../../../lib/printable.ts';
import { bucketCrash, evidenceFromDump, evidenceFromKd, evidenceFromLinux, normalizeModule, type AttributionConfig, type CrashBucket } from '../../crash/bucket.ts';
import { bugcheckSubcode, formatBugcheckCode, verifierSubcode, baseBugcheckCode } from '../../crash/bugchecks.ts';
import { readLinuxConsole } from '../../crash/linux.ts';
import { looksLikeDump, readKernelDump, type KernelDump } from '../../crash/windows/dump.ts';
import { looksLikeKdAnalysis, parseKdAnalysis, type KdAnalysis } from '../../crash/windows/kd.ts';
import { COLLECTION_FILE, collectedDumps, type Collection } from '../../crash/windows/disk/collect.ts';
import { fileHead } from '../../crash/windows/reader.ts';

// Text inputs are read whole; a console log or debugger output above this is not what we expect.
const MAX_TEXT_BYTES = 64 * 1024 * 1024;

export interface TriageResult {
  kind: 'kernel-dump' | 'kd-analysis' | 'linux-console';
  file: string;
  bugcheck?: { code: number; hex: string; name: string; params: string[]; subcode?: string; subcodeMeaning?: string };
  title?: string;
  build?: number;
  dumpType?: string;
  truncated?: boolean;
  drivers?: Array<{ name: string; base: string; size: number; timestamp: number }>;
  module?: string;
  symbol?: string;
  bucket: string;
  signatures: string[];
  instance?: string;
  attribution: CrashBucket['attribution'];
  attributionReason: string;
  bytesRead?: number;
  warnings?: string[];
  /** Where the analysis came from, for dumps: kd on an analysis host, or the dump's own header and triage data. */
  analysis?: { source: 'kd' | 'header-and-triage'; host?: string; note?: string };
}

function bugcheckJson(code: number, name: string, params: string[]): NonNullable<TriageResult['bugcheck']> {
  const subcode = bugcheckSubcode(code, params);
  const meaning = baseBugcheckCode(code) === 0xc4 && params[0] !== undefined ? verifierSubcode(params[0])?.description : undefined;
  return { code, hex: formatBugcheckCode(code), name, params, ...(subcode ? { subcode } : {}), ...(meaning ? { subcodeMeaning: meaning } : {}) };
}

function bucketFields(b: CrashBucket): Pick<TriageResult, 'bucket' | 'signatures' | 'instance' | 'attribution' | 'attributionReason'> {
  return { bucket: b.id, signatures: b.alternatives, ...(b.instance ? { instance: b.instance } : {}), attribution: b.attribution, attributionReason: b.attributionReason };
}

function fromDump(d: KernelDump, cfg: AttributionConfig): TriageResult {
  const b = bucketCrash(evidenceFromDump(d), cfg);
  return {
    kind: 'kernel-dump',
    file: d.file,
    bugcheck: bugcheckJson(d.bugcheck.code, d.bugcheck.name, d.bugcheck.params),
    build: d.build,
    dumpType: d.dumpType.name,
    truncated: d.truncated,
    ...(d.triage ? { drivers: d.triage.drivers.map(({ name, base, size, timestamp }) => ({ name, base, size, timestamp })) } : {}),
    ...(d.blamed ? { module: d.blamed.name.replace(/\.(sys|exe|dll)$/i, '') } : {}),
    ...bucketFields(b),
    bytesRead: d.bytesRead,
    ...(d.warnings.length ? { warnings: d.warnings } : {}),
  };
}

function fromKd(file: string, a: KdAnalysis, cfg: AttributionConfig): TriageResult {
  const b = bucketCrash(evidenceFromKd(a), cfg);
  return {
    kind: 'kd-analysis',
    file,
    bugcheck: bugcheckJson(a.bugcheck.code, a.bugcheck.name, a.bugcheck.params),
    ...(a.build !== undefined ? { build: a.build } : {}),
    ...(a.module ? { module: a.module } : {}),
    ...(a.symbol ? { symbol: a.symbol } : {}),
    ...bucketFields(b),
    ...(a.cut || a.truncated ? { warnings: [...(a.cut ? ['the analysis is cut short (no FAILURE_BUCKET_ID)'] : []), ...(a.truncated ? [a.truncated.note] : [])] } : {}),
  };
}

async function readText(file: string, handle: Awaited<ReturnType<typeof open>>, size: number): Promise<string> {
  if (size > MAX_TEXT_BYTES) throw new InputError({ file }, `${size} bytes: too big for debugger output or a console log (at most ${MAX_TEXT_BYTES})`);
  const buf = Buffer.alloc(size);
  let done = 0;
  while (done < size) {
    const { bytesRead } = await handle.read(buf, done, size - done, done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done).toString('utf8');
}

/** Reads FILE, detects its kind and triages it. Pure apart from reading the file. */
export async function triageFile(file: string, cfg: AttributionConfig): Promise<TriageResult> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError({ file }, code === 'ENOENT' ? 'file not found' : `cannot open file (${code ?? String(err)})`);
  }
  let text: string;
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new InputError({ file }, 'not a regular file');
    const head = Buffer.alloc(Math.min(8, st.size));
    await handle.read(head, 0, head.length, 0);
    if (looksLikeDump(head)) {
      await handle.close();
      handle = undefined;
      return fromDump(await readKernelDump(file), cfg);
    }
    text = await readText(file, handle, st.size);
  } finally {
    await handle?.close();
  }
  if (looksLikeKdAnalysis(text)) return fromKd(file, parseKdAnalysis(text, file), cfg);
  const { report, truncated } = readLinuxConsole(text);
  if (!report) {
    throw new InputError(
      { file },
      `nothing to triage: not a kernel dump (no "PAGEDU64"/"PAGEDUMP" signature), no "!analyze -v" output (no "Bugcheck Analysis", "BUGCHECK_CODE:" or "Arguments:" block), and no Linux crash in the text${truncated ? ` read (${truncated.note})` : ''}`,
    );
  }
  const b = bucketCrash(evidenceFromLinux(report), cfg);
  return {
    kind: 'linux-console',
    file,
    title: report.title,
    ...(report.module ? { module: report.module } : {}),
    ...(report.function ? { symbol: report.module ? `${report.module}!${report.function}` : report.function } : {}),
    ...bucketFields(b),
    ...(report.corrupted || truncated ? { warnings: [...(report.corrupted ? ['the console log ends before the crash report does'] : []), ...(truncated ? [truncated.note] : [])] } : {}),
  };
}

function kib(n: number): string {
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatTriage(r: TriageResult): string {
  const lines: string[] = [];
  if (r.bugcheck) {
    const sub = r.bugcheck.subcode ? ` subcode ${r.bugcheck.subcode}${r.bugcheck.subcodeMeaning ? ` (${r.bugcheck.subcodeMeaning})` : ''}` : '';
    lines.push(`${r.bugcheck.hex} ${r.bugcheck.name}${sub}`);
    if (r.bugcheck.params.length) lines.push(`  params ${r.bugcheck.params.join(', ')}`);
  }
  if (r.title) lines.push(r.title);
  const what = [r.kind, r.dumpType ? `${r.dumpType} dump` : '', r.build !== undefined ? `build ${r.build}` : '', r.drivers ? `${r.drivers.length} drivers` : '', r.truncated ? 'truncated' : '']
    .filter(Boolean)
    .join(', ');
  lines.push(`  from   ${what}`);
  lines.push(`  module ${r.module ?? '(not known)'}${r.symbol ? `  (${r.symbol})` : ''}`);
  lines.push(`  blame  ${r.attribution}: ${r.attributionReason}`);
  lines.push(`  bucket ${r.bucket}`);
  if (r.bytesRead !== undefined) lines.push(`  read   ${kib(r.bytesRead)}`);
  for (const w of r.warnings ?? []) lines.push(`  note   ${w}`);
  // Guest text (titles, module names, reasons) to a terminal: controls escaped visibly (#16 row 8).
  return `${lines.map(escapeControls).join('\n')}\n`;
}

/** What `triage` prints: the summary, or JSON without raw C1 or bidi controls (JSON escapes C0). */
export function triageOutput(r: TriageResult, json: boolean): string {
  return json ? `${jsonForTerminal(JSON.stringify(r, null, 2))}\n` : formatTriage(r);
}

/**
 * The files a folder asks to be triaged: the dumps `fleetgate collect` listed in its collected.json
 * (fresh before stale, newest first), or else every file in it that starts with a dump's signature.
 */
export async function triageFolderFiles(dir: string): Promise<Array<{ file: string; stale?: boolean; windowsPath?: string }>> {
  const listed = path.join(dir, COLLECTION_FILE);
  let text: string | undefined;
  try {
    text = await readFile(listed, 'utf8');
  } catch {
    text = undefined;
  }
  if (text !== undefined) {
    let c: Collection;
    try {
      c = JSON.parse(text) as Collection;
    } catch (err) {
      throw new InputError({ file: listed }, `not JSON: ${(err as Error).message}`);
    }
    if (!Array.isArray(c.files)) throw new InputError({ file: listed }, 'expected "files": a list, as fleetgate collect writes it');
    return collectedDumps(c).map((f) => ({ file: path.join(dir, f.file), ...(f.stale ? { stale: true } : {}), windowsPath: f.windowsPath }));
  }
  const out: Array<{ file: string }> = [];
  for (const name of (await readdir(dir)).sort()) {
    const file = path.join(dir, name);
    if (!(await stat(file).catch(() => undefined))?.isFile()) continue;
    if (looksLikeDump(await fileHead(file, 8))) out.push({ file });
  }
  return out;
}

export function registerTriage(program: Command): void {
  program
    .command('triage')
    .description('which bugcheck, which driver, is it ours: triage a kernel dump, !analyze -v output or a Linux console log (or every dump in a folder)')
    .argument('<file>', 'MEMORY.DMP / minidump, saved debugger output, a console log, or a folder (fleetgate collect\'s, or any with dumps in it)')
    .option('--json', 'machine-readable output')
    .option('--ours <names>', 'our module names, comma-separated (e.g. myfilter,myfilter.sys)', '')
    .option('--analysis-host <file>', 'a Windows host with kd.exe (YAML: host, username, privateKey, hostKeyFingerprint, kd, symbolPath); default $FLEETGATE_ANALYSIS_HOST')
    .action(async (file: string, opts: { json?: boolean; ours: string; analysisHost?: string }) => {
      const ours = opts.ours.split(',').map((s) => s.trim()).filter(Boolean).map(normalizeModule);
      if ((await stat(file).catch(() => undefined))?.isDirectory()) {
        const files = await triageFolderFiles(file);
        if (!files.length) throw new InputError({ file }, `no kernel dump in the folder (no ${COLLECTION_FILE} listing one, no file with a PAGEDU64/PAGEDUMP signature)`);
        const results: TriageResult[] = [];
        for (const f of files) {
          let r = await triageFile(f.file, { ours });
          if (r.kind === 'kernel-dump') r = await withFullAnalysis(r, f.file, { ours }, opts.analysisHost ?? process.env.FLEETGATE_ANALYSIS_HOST);
          if (f.stale) r = { ...r, warnings: [...(r.warnings ?? []), `stale: written before the collection's --not-before (${f.windowsPath ?? f.file}), an earlier crash's dump`] };
          results.push(r);
        }
        process.stdout.write(opts.json === true ? `${jsonForTerminal(JSON.stringify(results, null, 2))}\n` : results.map((r) => `${escapeControls(r.file)}\n${formatTriage(r)}`).join('\n'));
        return;
      }
      let r = await triageFile(file, { ours });
      if (r.kind === 'kernel-dump') r = await withFullAnalysis(r, file, { ours }, opts.analysisHost ?? process.env.FLEETGATE_ANALYSIS_HOST);
      process.stdout.write(triageOutput(r, opts.json === true));
    });
}

/**
 * With an analysis host: kd's `!analyze -v` replaces what the header says (it names the module and
 * symbol from the stack). Without one: the header and triage data stand, and the result says so.
 */
async function withFullAnalysis(r: TriageResult, file: string, cfg: AttributionConfig, hostFile: string | undefined): Promise<TriageResult> {
  if (!hostFile) {
    return {
      ...r,
      analysis: {
        source: 'header-and-triage',
        note: 'no Windows analysis host with kd.exe configured (--analysis-host or FLEETGATE_ANALYSIS_HOST): bugcheck, drivers and blame come from the dump header and triage data only',
      },
    };
  }
  const host = loadAnalysisHost(hostFile);
  const channel = await connectSsh({
    host: host.host,
    port: host.port,
    username: host.username,
    privateKeyPath: host.privateKeyPath,
    hostKeyFingerprint: host.hostKeyFingerprint,
    hostKeySource: host.file,
    remoteSha256: windowsRemoteSha256,
  });
  try {
    const { analysis } = await analyzeOnHost(channel, file, host);
    const full = fromKd(file, analysis, cfg);
    return { ...r, ...full, kind: 'kernel-dump', analysis: { source: 'kd', host: host.host } };
  } finally {
    await channel.close();
  }
}
