// The analysis-host path without a Windows host: a clearly named test double stands for the host's
// SSH channel (it records the upload and answers run_kd_analysis with a real recorded kd session from
// ../shared/samples/kd), so the upload, the script call and the parse are checked end to end.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ExecOptions, ExecResult, GuestChannel, TransferResult } from '../channel.ts';
import { decodePowerShell, RESULT_MARKER } from './encode.ts';
import { analyzeOnHost, loadAnalysisHost } from './analysis-host.ts';
import { sftpPath } from './windows-guest.ts';

const samples = resolve(fileURLToPath(new URL('../../../', import.meta.url)), '../shared/samples/kd');
const sample = join(samples, 'analyze_c4_62_windows-driver-samples205.txt');

class RecordedKdHostChannel {
  uploads: Array<{ local: string; remote: string }> = [];
  scripts: Array<{ script: string | null; input: unknown }> = [];
  constructor(private readonly kdOutput: string) {}
  async upload(local: string, remote: string): Promise<TransferResult> {
    this.uploads.push({ local, remote });
    return { bytes: 1, sha256: 'x', durationMs: 1 };
  }
  async exec(command: string, options: ExecOptions): Promise<ExecResult> {
    const d = decodePowerShell(command, typeof options.stdin === 'string' ? options.stdin : undefined);
    this.scripts.push({ script: d.scriptName, input: d.input });
    const stdout = `${RESULT_MARKER}${JSON.stringify({ ok: true, script: d.scriptName, result: { exitCode: 0, output: this.kdOutput } })}\r\n`;
    return { exitCode: 0, stdout, stderr: '', stdoutDroppedBytes: 0, stderrDroppedBytes: 0, truncated: false, timedOut: false, aborted: false, durationMs: 5 };
  }
}

t.test('config file: defaults, key path relative to the file, errors with line and column', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-kdhost-'));
  const good = join(dir, 'kd-host.yaml');
  writeFileSync(good, `host: 127.0.0.1\nusername: analyst\nprivateKey: keys/id_ed25519\nhostKeyFingerprint: SHA256:${'A'.repeat(43)}\n`);
  const h = loadAnalysisHost(good);
  t.equal(h.privateKeyPath, join(dir, 'keys/id_ed25519'));
  t.match(h.kdPath, /kd\.exe$/);
  t.equal(h.port, 22);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, `host: x\nusername: a\nprivateKey: k\nhostKeyFingerprint: MD5:aa\n`);
  t.throws(() => loadAnalysisHost(bad), /bad\.yaml:4:\d+: .*SHA256/);
  t.equal(sftpPath('C:\\fleetgate\\triage\\a.dmp'), 'C:/fleetgate/triage/a.dmp');
});

t.test('a dump is uploaded, kd runs through run_kd_analysis, its output is parsed', { skip: !existsSync(sample) && `no samples at ${samples}` }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-kdhost-'));
  const dump = join(dir, 'MEMORY.DMP');
  writeFileSync(dump, 'PAGEDU64 pretend');
  const ch = new RecordedKdHostChannel(readFileSync(sample, 'utf8'));
  const host = { file: 'kd-host.yaml', host: 'kdhost', port: 22, username: 'a', privateKeyPath: '/k', hostKeyFingerprint: 'SHA256:x', kdPath: 'C:\\kd\\kd.exe', symbolPath: 'srv*C:\\sym', workDir: 'C:\\fg\\triage\\', timeoutSec: 60 };
  const r = await analyzeOnHost(ch as unknown as GuestChannel, dump, host);
  t.equal(ch.uploads.length, 1);
  t.match(ch.uploads[0]!.remote, /^C:\/fg\/triage\/[0-9a-f]{16}\.dmp$/);
  t.equal(ch.scripts[0]!.script, 'run_kd_analysis');
  t.match(ch.scripts[0]!.input, { kd: 'C:\\kd\\kd.exe', symbolPath: 'srv*C:\\sym', dump: /^C:\\fg\\triage\\[0-9a-f]{16}\.dmp$/ });
  t.equal(r.analysis.bugcheck?.code, 0xc4);
});
