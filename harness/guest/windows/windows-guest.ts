// The Windows personality: the guest's operations by name (DESIGN.md "Guest OS personality").
// Each operation runs one script of ./scripts through encode.ts (PowerShell as -EncodedCommand, data
// as JSON, windows.md section 9) and checks the JSON it answers with: guest output is untrusted, so
// every field is validated before it becomes a typed value.
// It also runs the driver's scripts (driver/windows/*.ps1): powerShellRunner() is the harness's
// PowerShellRunner, which composes such a file with common.ps1 the same way.
import type { PowerShellRunner } from '../../../driver/windows/runner.ts';
import { InfraFailure } from '../../../lib/errors.ts';
import type { ExecResult, GuestChannel } from '../channel.ts';
import { REMOTE_SHA256_TIMEOUT_MS, type RemoteSha256 } from '../ssh/remote-sha256.ts';
import { encodePowerShell, parseResult, preparePowerShell, readableStderr, resolveScript, scriptFromFile, type GuestScriptRef } from './encode.ts';

/** Commands of ours that take longer are a guest problem. The first CIM query after boot starts WMI,
 * which can take tens of seconds on a loaded guest. */
const DEFAULT_TIMEOUT_MS = 120_000;

/** CrashControl CrashDumpEnabled (windows.md section 4); 1 with FilterPages=1 is an active dump. */
export type CrashDumpKind = 'none' | 'complete' | 'active' | 'kernel' | 'small' | 'automatic' | 'unknown';

export interface CrashDumpSettings {
  kind: CrashDumpKind;
  /** Raw CrashDumpEnabled; null when the value is absent. */
  crashDumpEnabled: number | null;
  autoReboot: boolean | null;
  overwrite: boolean | null;
  filterPages: number | null;
  alwaysKeepMemoryDump: boolean | null;
  /** DumpFile expanded (C:\Windows\MEMORY.DMP) and as stored (%SystemRoot%\MEMORY.DMP). */
  dumpFile: string | null;
  dumpFileRaw: string | null;
  minidumpDir: string | null;
  minidumpDirRaw: string | null;
}

export interface WindowsIdentity {
  /** CurrentBuild (19045, 22631, 26100...). */
  build: number;
  /** Update Build Revision: the part of the patch level systeminfo never shows (windows.md section 7). */
  ubr: number;
  /** `build.ubr`, e.g. `26100.4349`; the key of windows.md section 7's table. */
  patchLevel: string;
  /** `major.minor` from CurrentMajor/MinorVersionNumber (10.0); null before Windows 10. */
  version: string | null;
  /** EditionID: Professional, Enterprise, ServerDatacenter... */
  edition: string | null;
  /** ProductName as the registry has it: still "Windows 10 ..." on Windows 11, so judge by build. */
  productName: string | null;
  /** DisplayVersion (22H2, 24H2); older Windows only have releaseId (1607). */
  displayVersion: string | null;
  releaseId: string | null;
  /** Client, Server, Server Core. */
  installationType: string | null;
  computerName: string | null;
  architecture: string | null;
  /** `UEFI` or `Legacy` from %firmware_type%, when Windows sets it. */
  firmwareType: string | null;
  /** ISO 8601 UTC; changes on every boot, so it tells a reboot from the same boot. */
  lastBootUpTime: string | null;
  /** null when it cannot be known (BIOS firmware, no admin rights): see reasons.secureBoot. */
  secureBoot: boolean | null;
  /** In effect this boot (SystemStartOptions has TESTSIGNING); null with reasons.testSigning. */
  testSigning: boolean | null;
  /** Set for the next boot per bcdedit (English labels only); differs from testSigning until a reboot. */
  testSigningConfigured: boolean | null;
  /** Memory integrity running (Win32_DeviceGuard.SecurityServicesRunning contains 2). */
  hvci: boolean | null;
  /** VirtualizationBasedSecurityStatus: 0 off, 1 configured but not running, 2 running. */
  vbsStatus: number | null;
  crashDump: CrashDumpSettings;
  /** Why a null above is null, by field name (secureBoot, testSigning, testSigningConfigured, hvci...). */
  reasons: Record<string, string>;
}

export interface WindowsDumpFile {
  path: string;
  /** memory: the kernel/complete dump file (MEMORY.DMP); minidump: one file of the Minidump folder;
   * live: a live kernel dump of LiveKernelReports (written without a stop, e.g. Driver Verifier's 0x1C4). */
  kind: 'memory' | 'minidump' | 'live';
  sizeBytes: number;
  lastWriteTimeUtc: string | null;
}

export interface WindowsFileHash {
  path: string;
  sha256: string;
  sizeBytes: number;
}

// ---------------------------------------------------------------------------------------------------
// checking what the guest sent

class Fields {
  constructor(
    private readonly obj: Record<string, unknown>,
    private readonly where: string,
  ) {}

  static of(value: unknown, where: string): Fields {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new InfraFailure(`${where}: expected a JSON object, got ${JSON.stringify(value)?.slice(0, 200)}`);
    }
    return new Fields(value as Record<string, unknown>, where);
  }

  private bad(key: string, expected: string): never {
    throw new InfraFailure(`${this.where}: ${key} should be ${expected}, got ${JSON.stringify(this.obj[key])?.slice(0, 200) ?? 'nothing'}`);
  }

  string(key: string): string | null {
    const v = this.obj[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string') this.bad(key, 'a string or null');
    return v;
  }

  requiredString(key: string): string {
    return this.string(key) ?? this.bad(key, 'a string');
  }

  /** A non-negative integer, also accepted as its decimal text (CurrentBuild is REG_SZ). */
  int(key: string): number | null {
    const v = this.obj[key];
    if (v === undefined || v === null) return null;
    const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) this.bad(key, 'a non-negative integer or null');
    return n;
  }

  bool(key: string): boolean | null {
    const v = this.obj[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'boolean') this.bad(key, 'true, false or null');
    return v;
  }

  /** A registry DWORD flag (0/1) as a boolean. */
  flag(key: string): boolean | null {
    const n = this.int(key);
    return n === null ? null : n !== 0;
  }

  object(key: string): Fields {
    return Fields.of(this.obj[key] ?? {}, `${this.where}.${key}`);
  }

  array(key: string): unknown[] {
    const v = this.obj[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.bad(key, 'an array');
    return v;
  }

  stringMap(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.obj)) if (typeof v === 'string') out[k] = v;
    return out;
  }
}

function crashDumpKind(enabled: number | null, filterPages: number | null): CrashDumpKind {
  switch (enabled) {
    case 0:
      return 'none';
    case 1:
      return filterPages === 1 ? 'active' : 'complete';
    case 2:
      return 'kernel';
    case 3:
      return 'small';
    case 7:
      return 'automatic';
    default:
      return 'unknown';
  }
}

/** The typed identity from get_identity.ps1's result. Exported for tests and recorded results. */
export function identityFromResult(result: unknown): WindowsIdentity {
  const f = Fields.of(result, 'get_identity result');
  const build = f.int('currentBuild');
  const ubr = f.int('ubr');
  if (build === null) throw new InfraFailure('get_identity result: the registry has no CurrentBuild under HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion');
  if (ubr === null) {
    throw new InfraFailure(
      `get_identity result: the registry has no UBR under HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion ` +
        `(build ${build}); without it there is no patch level (windows.md section 7)`,
    );
  }
  const major = f.int('majorVersion');
  const minor = f.int('minorVersion');
  const cc = f.object('crashControl');
  const enabled = cc.int('CrashDumpEnabled');
  const filterPages = cc.int('FilterPages');
  return {
    build,
    ubr,
    patchLevel: `${build}.${ubr}`,
    version: major !== null && minor !== null ? `${major}.${minor}` : null,
    edition: f.string('editionId'),
    productName: f.string('productName'),
    displayVersion: f.string('displayVersion'),
    releaseId: f.string('releaseId'),
    installationType: f.string('installationType'),
    computerName: f.string('computerName'),
    architecture: f.string('architecture'),
    firmwareType: f.string('firmwareType'),
    lastBootUpTime: f.string('lastBootUpTime'),
    secureBoot: f.bool('secureBoot'),
    testSigning: f.bool('testSigning'),
    testSigningConfigured: f.bool('testSigningConfigured'),
    hvci: f.bool('hvci'),
    vbsStatus: f.int('vbsStatus'),
    crashDump: {
      kind: crashDumpKind(enabled, filterPages),
      crashDumpEnabled: enabled,
      autoReboot: cc.flag('AutoReboot'),
      overwrite: cc.flag('Overwrite'),
      filterPages,
      alwaysKeepMemoryDump: cc.flag('AlwaysKeepMemoryDump'),
      dumpFile: cc.string('DumpFile'),
      dumpFileRaw: cc.string('DumpFileRaw'),
      minidumpDir: cc.string('MinidumpDir'),
      minidumpDirRaw: cc.string('MinidumpDirRaw'),
    },
    reasons: f.object('reasons').stringMap(),
  };
}

function fileHashFromResult(result: unknown, path: string): WindowsFileHash {
  const f = Fields.of(result, `get_file_hash result for ${path}`);
  const sha256 = f.requiredString('sha256');
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new InfraFailure(`get_file_hash result for ${path}: sha256 is not 64 lowercase hex digits: ${JSON.stringify(sha256)}`);
  return { path: f.requiredString('path'), sha256, sizeBytes: f.int('sizeBytes') ?? 0 };
}

function dumpsFromResult(result: unknown): WindowsDumpFile[] {
  const f = Fields.of(result, 'list_dumps result');
  return f.array('dumps').map((d, i) => {
    const g = Fields.of(d, `list_dumps result.dumps[${i}]`);
    const kind = g.requiredString('kind');
    if (kind !== 'memory' && kind !== 'minidump' && kind !== 'live') throw new InfraFailure(`list_dumps result.dumps[${i}]: kind ${JSON.stringify(kind)} is not memory, minidump or live`);
    return { path: g.requiredString('path'), kind, sizeBytes: g.int('sizeBytes') ?? 0, lastWriteTimeUtc: g.string('lastWriteTimeUtc') };
  });
}

// ---------------------------------------------------------------------------------------------------
// paths

/**
 * A Windows path from what SFTP takes on Windows OpenSSH (`/C:/Users/x`, `C:/Users/x`): the leading
 * slash before a drive letter goes and slashes become backslashes. Other paths pass unchanged.
 */
export function windowsPathFromSftp(remotePath: string): string {
  const p = /^\/[A-Za-z]:([/\\]|$)/.test(remotePath) ? remotePath.slice(1) : remotePath;
  return /^[A-Za-z]:/.test(p) ? p.replace(/\//g, '\\') : p;
}

/**
 * A Windows path as the SFTP path of Windows OpenSSH: `C:\\a\\b` → `C:/a/b`. Windows OpenSSH's SFTP
 * server takes a drive path with or without a leading slash (windowsPathFromSftp reads both back);
 * this form is the one a test double can also serve (relative to its SFTP start folder).
 */
export function sftpPath(windowsPath: string): string {
  if (!/^[A-Za-z]:\\/.test(windowsPath)) throw new InfraFailure(`not an absolute Windows path: ${windowsPath}`);
  return windowsPath.replace(/\\/g, '/');
}

// ---------------------------------------------------------------------------------------------------
// the personality

export interface RunScriptOptions {
  timeoutMs?: number;
  /** stdout/stderr bytes kept; the result line is at the end, which is what is kept. */
  maxBufferBytes?: number;
}

export class WindowsGuest {
  constructor(private readonly channel: Pick<GuestChannel, 'exec'>) {}

  /** Runs one script (of ./scripts by name, or a GuestScript) with `data` as its input and returns
   * its (unchecked) result. */
  async runScript<T = unknown>(script: GuestScriptRef, data: unknown, options: RunScriptOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const scriptName = resolveScript(script).name;
    const prepared = preparePowerShell(script, data);
    const r: ExecResult = await this.channel.exec(prepared.command, {
      timeoutMs,
      maxBufferBytes: options.maxBufferBytes ?? 1024 * 1024,
      ...(prepared.mode === 'stdin' ? { stdin: prepared.stdin } : {}),
    });
    if (r.timedOut || r.aborted) {
      // The channel closed; whether Windows OpenSSH then ends powershell.exe is unverified.
      throw new InfraFailure(
        `Windows guest script ${scriptName} ${r.timedOut ? `did not finish within ${timeoutMs / 1000}s` : 'was aborted'}` +
          (r.stderr ? `; stderr ends: ${JSON.stringify(readableStderr(r.stderr).trimEnd().slice(-300))}` : ''),
      );
    }
    return parseResult<T>(r.stdout, scriptName, { stderr: r.stderr, exitCode: r.exitCode });
  }

  /**
   * The PowerShellRunner the driver's lifecycle and verifier steps take (driver/windows/runner.ts):
   * runs the .ps1 at `scriptFile` composed with common.ps1, so its helpers (Invoke-FleetgateNative,
   * Write-FleetgateResult...) come from there. Resolves to the script's result; an error result
   * rejects with WindowsScriptFailed, a missing one with WindowsScriptNoResult.
   */
  powerShellRunner(): PowerShellRunner {
    return {
      run: async (scriptFile, input, opts = {}) =>
        this.runScript(scriptFromFile(scriptFile), input, opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    };
  }

  /** Build, patch level, edition, Secure Boot, test signing, HVCI and crash dump settings. */
  async identity(): Promise<WindowsIdentity> {
    return identityFromResult(await this.runScript('get_identity', {}));
  }

  /** Lowercase hex SHA-256 of a guest file (a Windows path, or an SFTP-style `/C:/...` one). */
  async fileSha256(path: string): Promise<string> {
    return (await this.fileHash(path)).sha256;
  }

  async fileHash(path: string): Promise<WindowsFileHash> {
    const windowsPath = windowsPathFromSftp(path);
    const result = await this.runScript('get_file_hash', { path: windowsPath }, { timeoutMs: REMOTE_SHA256_TIMEOUT_MS });
    return fileHashFromResult(result, windowsPath);
  }

  /** Makes a folder (and its parents) on the guest; an absolute Windows path. */
  async newFolder(windowsPath: string): Promise<{ existed: boolean }> {
    const f = Fields.of(await this.runScript('new_folder', { path: windowsPath }), 'new_folder result');
    return { existed: f.bool('existed') ?? false };
  }

  /** MEMORY.DMP and Minidump\*.dmp where CrashControl puts them (and the default places); LiveKernelReports\**\*.dmp. */
  async listDumps(): Promise<WindowsDumpFile[]> {
    return dumpsFromResult(await this.runScript('list_dumps', {}));
  }
}

/** RemoteSha256 for Windows guests: `connectSsh({ ..., remoteSha256: windowsRemoteSha256 })`. */
export const windowsRemoteSha256: RemoteSha256 = (remotePath, channel) => new WindowsGuest(channel).fileSha256(remotePath);

/**
 * connectSsh's heartbeatCommand for a Windows guest. The one shell is cmd.exe (the image leaves
 * OpenSSH's DefaultShell at it; encode.ts keeps to its 8,191-character line): each probe is a new
 * cmd.exe, a process start our filter sees, opening a file every Windows has, the two things an exec
 * or open filter that hangs would stop. It costs a cmd.exe start (milliseconds), not a PowerShell
 * start (hundreds of milliseconds, more under Driver Verifier), so a slow guest is not taken for a
 * hung one. The heartbeat looks only at whether it exits 0.
 */
export const heartbeatCommand = 'type "%SystemRoot%\\win.ini" >NUL';
