// Optional full analysis: when a Windows analysis host with kd.exe is configured, a dump is uploaded
// there and `!analyze -v` runs with a symbol path; its output is read by kd.ts. Without one, triage
// uses the dump header and triage data alone, and says so.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { compileSchema, readSource, validateOrThrow } from '../../../lib/source-doc.ts';
import { InfraFailure } from '../../../lib/errors.ts';
import { stripEnd } from '../../../lib/linear-text.ts';
import type { GuestChannel } from '../channel.ts';
import { sftpPath, WindowsGuest } from './windows-guest.ts';
import { parseKdAnalysis, type KdAnalysis } from '../../crash/windows/kd.ts';

export interface AnalysisHost {
  /** Where the config came from (for messages). */
  file: string;
  host: string;
  port: number;
  username: string;
  /** Absolute path of the private key (read by the SSH channel; never logged). */
  privateKeyPath: string;
  /** Pinned `SHA256:...` host key of the analysis host. */
  hostKeyFingerprint: string;
  kdPath: string;
  symbolPath: string;
  /** Windows folder the dumps are uploaded to. */
  workDir: string;
  timeoutSec: number;
}

const schema = {
  type: 'object',
  required: ['host', 'username', 'privateKey', 'hostKeyFingerprint'],
  additionalProperties: false,
  properties: {
    host: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    username: { type: 'string', minLength: 1 },
    privateKey: { type: 'string', minLength: 1, description: 'a path to the private key file, relative to this file' },
    hostKeyFingerprint: { type: 'string', pattern: '^SHA256:[A-Za-z0-9+/]{43}$', description: 'the host key fingerprint as ssh-keygen -lf prints it (SHA256:...)' },
    kd: { type: 'string', minLength: 1 },
    symbolPath: { type: 'string', minLength: 1 },
    workDir: { type: 'string', minLength: 1 },
    timeoutSec: { type: 'integer', minimum: 10, maximum: 7200 },
  },
} as const;

interface RawHost {
  host: string;
  port?: number;
  username: string;
  privateKey: string;
  hostKeyFingerprint: string;
  kd?: string;
  symbolPath?: string;
  workDir?: string;
  timeoutSec?: number;
}

const validate = compileSchema<RawHost>(schema);

/** Reads an analysis host file (YAML): where kd.exe runs and how to reach it. Secrets stay in files. */
export function loadAnalysisHost(file: string): AnalysisHost {
  const src = readSource(file);
  const raw = validateOrThrow(src, validate);
  return {
    file,
    host: raw.host,
    port: raw.port ?? 22,
    username: raw.username,
    privateKeyPath: resolve(dirname(file), raw.privateKey),
    hostKeyFingerprint: raw.hostKeyFingerprint,
    kdPath: raw.kd ?? 'C:\\Program Files (x86)\\Windows Kits\\10\\Debuggers\\x64\\kd.exe',
    symbolPath: raw.symbolPath ?? 'srv*C:\\symbols*https://msdl.microsoft.com/download/symbols',
    workDir: raw.workDir ?? 'C:\\fleetgate\\triage',
    timeoutSec: raw.timeoutSec ?? 900,
  };
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export interface HostAnalysis {
  analysis: KdAnalysis;
  /** kd's whole session text. */
  output: string;
  exitCode: number;
}

/** Uploads the dump (named by its hash, so a dump is sent once) and runs `!analyze -v` on the host. */
export async function analyzeOnHost(channel: GuestChannel, dumpPath: string, host: AnalysisHost): Promise<HostAnalysis> {
  const hash = await sha256File(dumpPath);
  const remote = `${stripEnd(host.workDir, '\\')}\\${hash.slice(0, 16)}.dmp`;
  await channel.upload(dumpPath, sftpPath(remote));
  const r = await new WindowsGuest(channel).runScript<{ exitCode: number; output: string }>(
    'run_kd_analysis',
    { kd: host.kdPath, dump: remote, symbolPath: host.symbolPath, timeoutSec: host.timeoutSec },
    { timeoutMs: (host.timeoutSec + 60) * 1000, maxBufferBytes: 32 * 1024 * 1024 },
  );
  if (typeof r?.output !== 'string' || r.output.trim() === '') {
    throw new InfraFailure(`kd on ${host.host} printed nothing for ${dumpPath} (exit ${r?.exitCode ?? '?'})`);
  }
  return { analysis: parseKdAnalysis(r.output, `kd output for ${dumpPath} on ${host.host}`), output: r.output, exitCode: r.exitCode };
}
