// TEST DOUBLE. A "Windows guest" for tests: a loopback OpenSSH server (harness/guest/ssh/sshd-fixture.ts)
// whose commands go through bin/cmd.exe (Windows OpenSSH's shell) and find bin/powershell (real pwsh 7 with windows-doubles.ps1 loaded) and bin/*.exe
// (Windows programs replaying recorded real outputs from ../shared/samples/) first on PATH. The test
// writes the guest's state (registry values, Secure Boot, CIM instances, which recorded output each
// program replays); the real WindowsGuest sends the real composed scripts to it over real SSH.
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { powerShellTools } from '../../../../lib/pwsh.ts';
import { connectSsh, type SshGuestChannel } from '../../ssh/client.ts';
import { SshdFixture } from '../../ssh/sshd-fixture.ts';
import { heartbeatCommand, windowsRemoteSha256 } from '../windows-guest.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SAMPLES = path.resolve(HERE, '../../../../../shared/samples');

type RegValue = { type: 'REG_SZ' | 'REG_EXPAND_SZ' | 'REG_DWORD' | 'REG_QWORD' | 'REG_MULTI_SZ'; value: unknown };

export interface WindowsDoubleState {
  env: Record<string, string>;
  /** Keys by their PowerShell path (HKLM:\...), values by name. */
  registry: Record<string, Record<string, RegValue>>;
  secureBoot: boolean | 'not-uefi' | 'access-denied';
  /** CIM instances by `namespace:class`. */
  cim: Record<string, Record<string, unknown>>;
  /** After a restart (bin/shutdown.exe), the guest never answers again. */
  bootHangs?: boolean;
  /** Takes effect at the next restart (what Windows applies at boot: verifier settings, a pending install). */
  onReboot?: Partial<WindowsDoubleState> | null;
  /** Restarts so far. */
  boots?: number;
  /** fltmc.exe: the recorded listing replayed, the filters loaded since, load refusals by service. */
  fltmc?: {
    filtersSample?: string;
    loaded?: Array<{ name: string; altitude: string; instance: string; volumes: string[] }>;
    /** HRESULT a `fltmc load <service>` fails with (code integrity 0x80070241, a DriverEntry failure...). */
    loadErrors?: Record<string, string>;
    refuseUnload?: string[];
    volumes?: string[];
    accessDenied?: boolean;
  };
  /** pnputil.exe: a recorded refusal (a file of ../shared/samples/pnputil/) replayed for /add-driver. */
  pnputil?: { refuseAdd?: string; nextOem?: number };
  /** Driver Verifier as running now (`verifier /query`); next-boot settings go to onReboot.verifier. */
  verifier?: { flags: number; drivers: string[]; bootMode: string; ruleClasses?: number[]; lowResources?: unknown };
  driverStore?: Array<{ published: string; originalFileName: string; service: string }>;
  /** kd.exe (an analysis host's): the recorded `!analyze -v` session (a file of ../shared/samples/kd/) it replays. */
  kd?: { analysis?: string };
  /**
   * wpr.exe and wpaexporter.exe (programs/wpr.ps1, programs/wpaexporter.ps1): the recording running,
   * and what the export says each filter's callbacks took (µs) and how many of each there were.
   */
  wpr?: { recording?: { profiles: string[]; filters: string[] } | null; delaysUs?: Record<string, number>; callbacks?: number; failStop?: boolean };
}

/** The programs the guest double has in C:\Windows\System32 (bin/*.exe). */
const SYSTEM32_PROGRAMS = ['bcdedit.exe', 'cmd.exe', 'fltmc.exe', 'pnputil.exe', 'rundll32.exe', 'sc.exe', 'shutdown.exe', 'verifier.exe', 'wpr.exe'];

/** Where the Windows Performance Toolkit (ADK) puts wpaexporter.exe, which the guest double has there. */
export const WPT_FOLDER = 'C:\\Program Files (x86)\\Windows Kits\\10\\Windows Performance Toolkit';

/** A Windows 11 24H2 guest at 26100.4349, test signing on, Secure Boot off, as a cell image would be. */
export function windows11State(o: { build?: number; ubr?: number; lastBoot?: string } = {}): WindowsDoubleState {
  const cv = 'HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion';
  return {
    env: { COMPUTERNAME: 'FG-CELL', PROCESSOR_ARCHITECTURE: 'AMD64', firmware_type: 'UEFI', SystemRoot: 'C:\\Windows', ProgramFiles: 'C:\\Program Files' },
    registry: {
      [cv]: {
        CurrentBuild: { type: 'REG_SZ', value: String(o.build ?? 26100) },
        UBR: { type: 'REG_DWORD', value: o.ubr ?? 4349 },
        EditionID: { type: 'REG_SZ', value: 'Enterprise' },
        ProductName: { type: 'REG_SZ', value: 'Windows 10 Enterprise' },
        DisplayVersion: { type: 'REG_SZ', value: '24H2' },
        InstallationType: { type: 'REG_SZ', value: 'Client' },
        CurrentMajorVersionNumber: { type: 'REG_DWORD', value: 10 },
        CurrentMinorVersionNumber: { type: 'REG_DWORD', value: 0 },
      },
      'HKLM:\\SYSTEM\\CurrentControlSet\\Control': {
        SystemStartOptions: { type: 'REG_SZ', value: ' NOEXECUTE=OPTIN  TESTSIGNING  NOVGA' },
      },
      'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\CrashControl': {
        CrashDumpEnabled: { type: 'REG_DWORD', value: 1 },
        FilterPages: { type: 'REG_DWORD', value: 1 },
        AutoReboot: { type: 'REG_DWORD', value: 1 },
        Overwrite: { type: 'REG_DWORD', value: 1 },
        DumpFile: { type: 'REG_EXPAND_SZ', value: '%SystemRoot%\\MEMORY.DMP' },
        MinidumpDir: { type: 'REG_EXPAND_SZ', value: '%SystemRoot%\\Minidump' },
      },
    },
    secureBoot: false,
    cim: {
      'root\\cimv2:Win32_OperatingSystem': { LastBootUpTime: o.lastBoot ?? '2026-12-01T08:30:00Z' },
      'root\\Microsoft\\Windows\\DeviceGuard:Win32_DeviceGuard': { SecurityServicesRunning: [0], SecurityServicesConfigured: [0], VirtualizationBasedSecurityStatus: 0 },
    },
  };
}

export interface WindowsDoubleGuest {
  channel: SshGuestChannel;
  stateDir: string;
  sshd: SshdFixture;
  /** Another SSH session to the guest (after a restart). */
  connect(signal?: AbortSignal): Promise<SshGuestChannel>;
  /** Rewrites the guest's state (between scripts, as a reboot or an install would change it). */
  setState(state: WindowsDoubleState): void;
  /** The guest's state now (what the doubles changed included). */
  state(): WindowsDoubleState;
  /** Which recorded output a program replays: a file of ../shared/samples/, copied into the state. */
  replay(program: 'bcdedit-enum-current', sample: string): void;
  /** Where a path of the guest's C: drive (`C:\\fleetgate\\x`) is on this machine. */
  hostPath(windowsPath: string): string;
  stop(): Promise<void>;
}

export async function startWindowsDouble(state: WindowsDoubleState = windows11State()): Promise<WindowsDoubleGuest> {
  const pwsh = powerShellTools().pwsh;
  if (!pwsh) throw new Error('the Windows guest double needs pwsh');
  const stateDir = mkdtempSync(path.join(tmpdir(), 'fg-windouble-'));
  // The C: drive: a folder PowerShell mounts as drive C (double-state.ps1), and `C:` beside it for the
  // SFTP server, whose relative paths start in the state folder: `C:/fleetgate/x` lands in C/fleetgate/x.
  const system32 = path.join(stateDir, 'C', 'Windows', 'System32');
  for (const d of [path.join(system32, 'drivers'), path.join(stateDir, 'C', 'Windows', 'Minidump'), path.join(stateDir, 'C', 'fleetgate')]) mkdirSync(d, { recursive: true });
  for (const exe of SYSTEM32_PROGRAMS) symlinkSync(path.join(HERE, 'bin', exe), path.join(system32, exe));
  mkdirSync(path.join(system32, 'WindowsPowerShell', 'v1.0'), { recursive: true });
  symlinkSync(path.join(HERE, 'bin', 'powershell'), path.join(system32, 'WindowsPowerShell', 'v1.0', 'powershell.exe'));
  symlinkSync('C', path.join(stateDir, 'C:'));
  // A file every Windows has, which the heartbeat opens (windows-guest.ts heartbeatCommand).
  writeFileSync(path.join(stateDir, 'C', 'Windows', 'win.ini'), '; for 16-bit app support\r\n[fonts]\r\n[extensions]\r\n[mci extensions]\r\n[files]\r\n[Mail]\r\nMAPI=1\r\n');
  // Node.js where an image installs it: this machine's node itself (it runs here), started through
  // bin/node.exe, which lets the filter model decide the process start first.
  mkdirSync(path.join(stateDir, 'C', 'Program Files', 'nodejs'), { recursive: true });
  symlinkSync(path.join(HERE, 'bin', 'node.exe'), path.join(stateDir, 'C', 'Program Files', 'nodejs', 'node.exe'));
  const wpt = path.join(stateDir, 'C', ...WPT_FOLDER.slice(3).split('\\'));
  mkdirSync(wpt, { recursive: true });
  symlinkSync(path.join(HERE, 'bin', 'wpaexporter.exe'), path.join(wpt, 'wpaexporter.exe'));
  const hostPath = (windowsPath: string): string => {
    if (!/^[Cc]:\\/.test(windowsPath)) throw new Error(`the guest double has only a C: drive, not ${windowsPath}`);
    return path.join(stateDir, 'C', ...windowsPath.slice(3).split('\\'));
  };
  const setState = (s: WindowsDoubleState): void => writeFileSync(path.join(stateDir, 'state.json'), JSON.stringify(s));
  setState(state);
  const sshd = await SshdFixture.create({
    env: {
      PATH: `${path.join(HERE, 'bin')}:${path.dirname(pwsh)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      FLEETGATE_WINDOWS_DOUBLE: stateDir,
      FLEETGATE_SAMPLES: SAMPLES,
      FLEETGATE_PWSH: pwsh,
      FLEETGATE_NODE: process.execPath,
      // pwsh as a .NET global tool finds its runtime through DOTNET_ROOT when dotnet is not on PATH.
      ...(process.env.DOTNET_ROOT ? { DOTNET_ROOT: process.env.DOTNET_ROOT } : {}),
      DOTNET_CLI_TELEMETRY_OPTOUT: '1',
      POWERSHELL_TELEMETRY_OPTOUT: '1',
    },
    sftpStartDir: stateDir,
    // Windows OpenSSH's shell: every command goes through cmd.exe (bin/cmd.exe), as on the image.
    forceCommand: path.join(HERE, 'bin', 'cmd.exe'),
  });
  await sshd.start();
  const connect = (signal?: AbortSignal): Promise<SshGuestChannel> =>
    connectSsh({
      host: '127.0.0.1',
      port: sshd.port,
      username: sshd.user,
      privateKeyPath: sshd.clientKeyPath,
      hostKeyFingerprint: sshd.hostFingerprint,
      remoteSha256: windowsRemoteSha256,
      heartbeatCommand,
      ...(signal ? { signal } : {}),
    });
  const channel = await connect();
  const opened: SshGuestChannel[] = [channel];
  return {
    channel,
    connect: async (signal) => {
      const c = await connect(signal);
      opened.push(c);
      return c;
    },
    stateDir,
    sshd,
    setState,
    state: () => JSON.parse(readFileSync(path.join(stateDir, 'state.json'), 'utf8')) as WindowsDoubleState,
    hostPath,
    replay: (program, sample) => writeFileSync(path.join(stateDir, `${program}.txt`), readFileSync(path.join(SAMPLES, sample))),
    stop: async () => {
      for (const c of opened) await c.close().catch(() => undefined);
      await sshd.stop();
    },
  };
}
