// The image provisioning scripts (provision/*.ps1), unchanged, run in real PowerShell 7 the way
// Packer's powershell provisioner runs them in the Windows VM, with the environment and files the
// template (packer/windows.pkr.hcl) gives each one, against TEST DOUBLES of Windows's own cmdlets and
// programs (provision/test-doubles/). Each test checks what a script leaves on the double's "Windows"
// (registry, services, capabilities, firewall, ACLs, bcdedit, updates, files on C:) and that the
// script's own checks fail it when they should. The last one runs the whole build in the template's
// order and turns the facts the guest wrote into a manifest with images/windows/facts.ts.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { powerShellTools, pwshSkip } from '../../../lib/pwsh.ts';
import { SAMPLES, windows11State, type WindowsDoubleState } from '../../../harness/guest/windows/test-doubles/guest-double.ts';
import { manifestFromFacts, parseFacts } from '../facts.ts';
import { WINDOWS_DEDICATED_DUMP_FILE } from '../manifest.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DOUBLES = path.join(HERE, 'test-doubles');
const RUNNER = path.join(DOUBLES, 'run-provision.ps1');
const TEMPLATE = readFileSync(path.join(HERE, '../packer/windows.pkr.hcl'), 'utf8');

const keygen = spawnSync('ssh-keygen', ['-?'], { encoding: 'utf8' });
const skip = pwshSkip() || (keygen.error ? 'ssh-keygen is not installed (the sshd double makes its host key with it)' : false);
const samplesSkip = existsSync(SAMPLES) ? false : `${SAMPLES} is not beside the repository (the recorded bcdedit refusal)`;

// --- What the template gives each script ----------------------------------------------------------

type Step = { kind: 'powershell'; script: string; env: Record<string, string>; validExitCodes: number[] } | { kind: 'restart' };

/** The blocks `provisioner "<type>" { ... }` of the build, in order, with their bodies. */
function provisionerBlocks(hcl: string): Array<{ type: string; body: string }> {
  const out: Array<{ type: string; body: string }> = [];
  const re = /provisioner "([\w-]+)" \{/g;
  for (let m = re.exec(hcl); m; m = re.exec(hcl)) {
    let depth = 1;
    let i = re.lastIndex;
    for (; i < hcl.length && depth > 0; i++) {
      if (hcl[i] === '{') depth++;
      else if (hcl[i] === '}') depth--;
    }
    out.push({ type: m[1]!, body: hcl.slice(re.lastIndex, i - 1) });
  }
  return out;
}

/** An HCL string's interpolations, for what the template uses: local.*, var.*, and `var.x == "" ? "a" : "b"`. */
function interpolate(s: string, vars: Record<string, string>): string {
  const guestDir = /guest_dir\s*=\s*"([^"]*)"/.exec(TEMPLATE)![1]!.replace(/\\\\/g, '\\');
  return s
    .replace(/\$\{var\.(\w+) == "" \? "([^"]*)" : "([^"]*)"\}/g, (_, v: string, a: string, b: string) => ((vars[v] ?? '') === '' ? a : b))
    .replace(/\$\{local\.guest_dir\}/g, guestDir)
    .replace(/\$\{local\.provision\}/g, '.')
    .replace(/\$\{var\.(\w+)\}/g, (_, v: string) => {
      if (!(v in vars)) throw new Error(`the template uses var.${v}; the test gives it no value`);
      return vars[v]!;
    });
}

/** The template's provisioning steps for these variables: each script with its environment_vars and valid_exit_codes. */
function templateSteps(vars: Record<string, string>): Step[] {
  const steps: Step[] = [];
  for (const b of provisionerBlocks(TEMPLATE)) {
    if (b.type === 'windows-restart') steps.push({ kind: 'restart' });
    if (b.type !== 'powershell' || /\binline\s*=/.test(b.body)) continue;
    const list = (key: string) => {
      const m = new RegExp(`\\b${key}\\s*=\\s*\\[([^\\]]*)\\]`).exec(b.body);
      return m ? [...m[1]!.matchAll(/"((?:\$\{[^}]*\}|[^"\\]|\\.)*)"/g)].map((x) => x[1]!) : [];
    };
    const one = /\bscript\s*=\s*"([^"]*)"/.exec(b.body);
    const scripts = one ? [one[1]!] : list('scripts');
    const env: Record<string, string> = {};
    for (const e of list('environment_vars')) {
      const v = interpolate(e, vars);
      env[v.slice(0, v.indexOf('='))] = v.slice(v.indexOf('=') + 1);
    }
    const codes = /valid_exit_codes\s*=\s*\[([^\]]*)\]/.exec(b.body);
    const validExitCodes = codes ? codes[1]!.split(',').map((x) => Number(x.trim())) : [0];
    for (const s of scripts) steps.push({ kind: 'powershell', script: path.basename(interpolate(s, vars)), env, validExitCodes });
  }
  return steps;
}

const VARS = { test_signing: 'true', msu_path: '/updates/windows11.0-kb5101650-x64.msu', kb: '5101650' };

function stepFor(script: string, vars: Record<string, string> = VARS): Extract<Step, { kind: 'powershell' }> {
  const s = templateSteps(vars).find((x): x is Extract<Step, { kind: 'powershell' }> => x.kind === 'powershell' && x.script === script);
  if (!s) throw new Error(`the template does not run ${script}`);
  return s;
}

// --- The "Windows" a script runs on ----------------------------------------------------------------

type RegValue = WindowsDoubleState['registry'][string][string];
interface ProvisionState extends WindowsDoubleState {
  machineEnv: Record<string, string>;
  capabilities: Record<string, 'Installed' | 'NotPresent'>;
  services: Record<string, { displayName: string; startType: string; status: string }>;
  firewallRules: Record<string, { displayName: string; group: string | null; enabled: boolean; direction: string; action: string; protocol?: string; localPort?: string }>;
  bcd?: { secureBootPolicy?: boolean; entries?: Record<string, Record<string, string>> };
  updates: { installed: Array<{ hotFixId: string; description: string; installedOn: string }>; packages: Record<string, { kb: string; ubr?: number; rebootRequired?: boolean; exitCode?: number }>; pendingUbr?: number };
  acl?: Record<string, { inheritance: boolean; inherited: string[]; explicit: string[] }>;
  aclAccessDenied?: boolean;
  calls?: Array<{ program: string; args: string[] }>;
  restartedByWusa?: boolean;
}

const CV = 'HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion';
const WINLOGON = `${CV}\\Winlogon`;
const CRASH = 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\CrashControl';
const AU = 'HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU';
const OPENSSH = 'HKLM:\\SOFTWARE\\OpenSSH';
const AUTH_KEYS = 'C:\\ProgramData\\ssh\\administrators_authorized_keys';
const WINRM_GROUP = '@FirewallAPI.dll,-30267';

/** A Windows 11 24H2 VM as Packer finds it after Setup and the answer file: WinRM on, auto-logon, no OpenSSH server, at 26100.4349. */
function freshVm(): ProvisionState {
  const base = windows11State({ build: 26100, ubr: 4349 });
  return {
    ...base,
    env: { ...base.env, windir: 'C:\\Windows', SystemDrive: 'C:', ProgramData: 'C:\\ProgramData', ALLUSERSPROFILE: 'C:\\ProgramData', COMPUTERNAME: 'FG-BUILD' },
    registry: {
      ...base.registry,
      [WINLOGON]: {
        AutoAdminLogon: { type: 'REG_SZ', value: '1' },
        DefaultUserName: { type: 'REG_SZ', value: 'fleetgate' },
        DefaultPassword: { type: 'REG_SZ', value: 'Pa55-word' },
      },
      'HKLM:\\SYSTEM\\CurrentControlSet\\Control': { SystemStartOptions: { type: 'REG_SZ', value: ' NOEXECUTE=OPTIN  NOVGA' } },
    },
    machineEnv: { Path: 'C:\\Windows\\system32;C:\\Windows;C:\\Windows\\System32\\Wbem;C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\;C:\\Windows\\System32\\OpenSSH\\' },
    capabilities: { 'OpenSSH.Client~~~~0.0.1.0': 'Installed', 'OpenSSH.Server~~~~0.0.1.0': 'NotPresent' },
    services: {
      WinRM: { displayName: 'Windows Remote Management (WS-Management)', startType: 'Automatic', status: 'Running' },
      wuauserv: { displayName: 'Windows Update', startType: 'Manual', status: 'Running' },
    },
    firewallRules: {
      'WINRM-HTTP-In-TCP': { displayName: 'Windows Remote Management (HTTP-In)', group: WINRM_GROUP, enabled: true, direction: 'Inbound', action: 'Allow' },
      'WINRM-HTTP-In-TCP-PUBLIC': { displayName: 'Windows Remote Management (HTTP-In)', group: WINRM_GROUP, enabled: true, direction: 'Inbound', action: 'Allow' },
      'CoreNet-DHCP-In': { displayName: 'Core Networking - Dynamic Host Configuration Protocol (DHCP-In)', group: '@FirewallAPI.dll,-25000', enabled: true, direction: 'Inbound', action: 'Allow' },
    },
    bcd: { entries: { '{current}': {} } },
    updates: { installed: [{ hotFixId: 'KB5060842', description: 'Security Update', installedOn: '6/10/2025' }], packages: {} },
  };
}

const HARNESS_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH3p0TZ3zV9q1xvGf2m8aQZk3v5x0pXxS2oYc4Jt1wQe fleetgate-harness';
const MSU = 'not a real .msu: the wusa double knows this package by its SHA-256 (KB5101650)\n';
const msuHash = createHash('sha256').update(MSU).digest('hex');

class Vm {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'fg-provision-'));
  constructor(state: ProvisionState, files: { key?: string; node?: boolean; msu?: string } = {}) {
    mkdirSync(this.host('C:\\fleetgate'), { recursive: true });
    this.write(state);
    // What the template's file provisioners copy in before the scripts run.
    writeFileSync(this.host('C:\\fleetgate\\harness_key.pub'), `${files.key ?? HARNESS_KEY}\n`);
    if (files.node !== false) copyFileSync(path.join(DOUBLES, 'bin', 'node.exe'), this.host('C:\\fleetgate\\node.exe'));
    if (files.msu !== undefined) writeFileSync(this.host('C:\\fleetgate\\update.msu'), files.msu);
  }
  host(windowsPath: string): string {
    return path.join(this.dir, 'C', ...windowsPath.slice(3).split(/\\/));
  }
  state(): ProvisionState {
    return JSON.parse(readFileSync(path.join(this.dir, 'state.json'), 'utf8')) as ProvisionState;
  }
  write(s: ProvisionState): void {
    writeFileSync(path.join(this.dir, 'state.json'), JSON.stringify(s, null, 2));
  }
  change(f: (s: ProvisionState) => void): void {
    const s = this.state();
    f(s);
    this.write(s);
  }
  reg(key: string, name: string): RegValue | undefined {
    const k = Object.keys(this.state().registry).find((x) => x.toLowerCase() === key.toLowerCase());
    return k ? this.state().registry[k]![name] : undefined;
  }
  calls(program: string): string[][] {
    return (this.state().calls ?? []).filter((c) => c.program === program).map((c) => c.args);
  }
  /** One script as Packer runs it; the exit code is Windows's (32 bits), read from the runner's exit-code file. */
  run(script: string, env: Record<string, string>, extra: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string } {
    const pwsh = powerShellTools().pwsh!;
    const r = spawnSync(pwsh, ['-NoProfile', '-NonInteractive', '-File', RUNNER, '-StateDir', this.dir, '-Script', path.join(HERE, script), '-Environment', JSON.stringify(env)], {
      encoding: 'utf8',
      timeout: 90_000,
      env: {
        PATH: `${path.dirname(pwsh)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        HOME: process.env.HOME ?? os.tmpdir(),
        ...(process.env.DOTNET_ROOT ? { DOTNET_ROOT: process.env.DOTNET_ROOT } : {}),
        NO_COLOR: '1',
        POWERSHELL_TELEMETRY_OPTOUT: '1',
        DOTNET_CLI_TELEMETRY_OPTOUT: '1',
        FLEETGATE_PWSH: pwsh,
        FLEETGATE_NODE: process.execPath,
        FLEETGATE_SAMPLES: SAMPLES,
        ...extra,
      },
    });
    if (r.error) throw r.error;
    const file = path.join(this.dir, 'exit-code');
    const code = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : (r.status ?? -1);
    if ((code & 0xff) !== r.status && !(code !== 0 && (code & 0xff) === 0 && r.status === 255)) throw new Error(`exit-code file says ${code}, the process exited with ${r.status}: ${r.stderr}`);
    return { code, stdout: r.stdout, stderr: r.stderr };
  }
  /** A script with the environment the template gives it. */
  provision(script: string, vars: Record<string, string> = VARS, extra: NodeJS.ProcessEnv = {}) {
    return this.run(script, stepFor(script, vars).env, extra);
  }
  /** Packer's windows-restart, as the doubles model a boot: the update's UBR, bcdedit's test signing, services by start type. */
  restart(): void {
    this.change((s) => {
      const cv = s.registry[CV]!;
      if (s.updates.pendingUbr !== undefined) {
        cv.UBR = { type: 'REG_DWORD', value: s.updates.pendingUbr };
        delete s.updates.pendingUbr;
      }
      const ts = s.bcd?.entries?.['{current}']?.testsigning === 'Yes';
      s.registry['HKLM:\\SYSTEM\\CurrentControlSet\\Control'] = { SystemStartOptions: { type: 'REG_SZ', value: ts ? ' NOEXECUTE=OPTIN  TESTSIGNING  NOVGA' : ' NOEXECUTE=OPTIN  NOVGA' } };
      for (const svc of Object.values(s.services)) svc.status = svc.startType === 'Automatic' ? 'Running' : 'Stopped';
    });
  }
  rm(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function vm(t: { teardown(fn: () => void): void }, state = freshVm(), files?: ConstructorParameters<typeof Vm>[1]): Vm {
  const v = new Vm(state, files);
  t.teardown(() => v.rm());
  return v;
}

/** `ssh-keygen -lf`: OpenSSH's own SHA256 fingerprint of a public key file, the oracle for write_image_facts.ps1. */
function sshFingerprint(pubFile: string): string {
  const r = spawnSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen -l: ${r.stderr}`);
  return r.stdout.split(' ')[1]!;
}

function hostKey(v: Vm): void {
  mkdirSync(v.host('C:\\ProgramData\\ssh'), { recursive: true });
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', v.host('C:\\ProgramData\\ssh\\ssh_host_ed25519_key')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
}

const effectiveAcl = (a: { inherited: string[]; explicit: string[] } | undefined) => (a ? [...a.explicit, ...a.inherited].sort() : []);

t.test('the template gives each script what the tests below give it', { skip }, async (t) => {
  const steps = templateSteps(VARS);
  const scripts = steps.flatMap((s) => (s.kind === 'powershell' ? [s.script] : ['(restart)']));
  t.same(scripts, ['install_openssh.ps1', 'set_crash_dump.ps1', 'install_node.ps1', 'enable_test_signing.ps1', 'install_update.ps1', '(restart)', '(restart)', 'disable_updates.ps1', 'write_image_facts.ps1', 'finish_image.ps1']);
  t.same(stepFor('install_openssh.ps1').env, { FLEETGATE_DIR: 'C:\\fleetgate' });
  t.same(stepFor('enable_test_signing.ps1').env, { FLEETGATE_TEST_SIGNING: 'true' });
  t.same(stepFor('install_update.ps1').env, { FLEETGATE_DIR: 'C:\\fleetgate', FLEETGATE_MSU: 'update.msu', FLEETGATE_KB: '5101650' });
  t.same(stepFor('install_update.ps1', { ...VARS, msu_path: '', kb: '' }).env, { FLEETGATE_DIR: 'C:\\fleetgate', FLEETGATE_MSU: '', FLEETGATE_KB: '' });
  t.same(stepFor('install_update.ps1').validExitCodes, [0, 3010]);
  t.same(stepFor('finish_image.ps1').env, {});
  t.match(TEMPLATE, /destination = "\$\{local\.guest_dir\}\\\\harness_key\.pub"/, 'the key goes to C:\\fleetgate\\harness_key.pub');
  t.match(TEMPLATE, /destination = "\$\{local\.guest_dir\}\\\\node\.exe"/, 'node.exe goes to C:\\fleetgate\\node.exe');
  t.match(TEMPLATE, /destination = "\$\{local\.guest_dir\}\\\\update\.msu"/, 'the update goes to C:\\fleetgate\\update.msu');
});

t.test('install_openssh.ps1: capability, sshd automatic and running, firewall, cmd.exe as shell, the key with its ACL', { skip, timeout: 180_000 }, async (t) => {
  const state = freshVm();
  // An earlier setting of another kind: New-ItemProperty -Force must replace it.
  state.registry[OPENSSH] = { DefaultShell: { type: 'REG_EXPAND_SZ', value: '%SystemRoot%\\System32\\WindowsPowerShell\\v1.0\\powershell.exe' } };
  const v = vm(t, state);
  const r = v.provision('install_openssh.ps1');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /sshd running; default shell C:\\Windows\\System32\\cmd\.exe; key installed in C:\\ProgramData\\ssh\\administrators_authorized_keys/);
  const s = v.state();
  t.equal(s.capabilities['OpenSSH.Server~~~~0.0.1.0'], 'Installed');
  t.match(s.services.sshd, { startType: 'Automatic', status: 'Running' });
  t.match(s.firewallRules['OpenSSH-Server-In-TCP'], { enabled: true, direction: 'Inbound', action: 'Allow', localPort: '22' }, 'the rule setup made, enabled');
  t.same(v.reg(OPENSSH, 'DefaultShell'), { type: 'REG_SZ', value: 'C:\\Windows\\System32\\cmd.exe' });
  t.equal(readFileSync(v.host(AUTH_KEYS), 'utf8').trim(), HARNESS_KEY, 'the key from C:\\fleetgate\\harness_key.pub');
  const icacls = v.calls('icacls.exe');
  t.equal(icacls.length, 1);
  t.equal(icacls[0]![0], AUTH_KEYS, 'by its Windows path');
  t.same(icacls[0]!.slice(1), ['/inheritance:r', '/grant', '*S-1-5-32-544:F', '/grant', '*S-1-5-18:F']);
  const acl = Object.entries(s.acl ?? {}).find(([k]) => k.toLowerCase() === AUTH_KEYS.toLowerCase())?.[1];
  t.equal(acl?.inheritance, false, 'inheritance off');
  t.same(effectiveAcl(acl), ['*S-1-5-18:F', '*S-1-5-32-544:F'], 'Administrators and SYSTEM only: no inherited Users entry');
  t.ok(existsSync(v.host('C:\\ProgramData\\ssh\\ssh_host_ed25519_key.pub')), "sshd's first start made its host key");
});

t.test('install_openssh.ps1: capability already there and the rule gone: no install, a new rule', { skip, timeout: 180_000 }, async (t) => {
  const state = freshVm();
  state.capabilities['OpenSSH.Server~~~~0.0.1.0'] = 'Installed';
  state.services.sshd = { displayName: 'OpenSSH SSH Server', startType: 'Manual', status: 'Stopped' };
  const v = vm(t, state);
  const r = v.provision('install_openssh.ps1');
  t.equal(r.code, 0, r.stderr);
  t.match(v.state().firewallRules['OpenSSH-Server-In-TCP'], { displayName: 'OpenSSH Server (sshd)', enabled: true, direction: 'Inbound', action: 'Allow', protocol: 'TCP', localPort: '22' });
  t.match(v.state().services.sshd, { startType: 'Automatic', status: 'Running' });
});

t.test("install_openssh.ps1 fails on a key that is not an OpenSSH public key, a Windows without the capability, and icacls's refusal", { skip, timeout: 180_000 }, async (t) => {
  const bad = vm(t, freshVm(), { key: '-----BEGIN OPENSSH PRIVATE KEY-----' });
  const r1 = bad.provision('install_openssh.ps1');
  t.equal(r1.code, 1);
  t.match(r1.stderr, /the harness key in C:\\fleetgate\\harness_key\.pub is not an OpenSSH public key/);
  t.notOk(existsSync(bad.host(AUTH_KEYS)), 'nothing written to administrators_authorized_keys');

  const none = freshVm();
  none.capabilities = { 'OpenSSH.Client~~~~0.0.1.0': 'Installed' };
  const v2 = vm(t, none);
  const r2 = v2.provision('install_openssh.ps1');
  t.equal(r2.code, 1);
  t.match(r2.stderr, /OpenSSH\.Server is not offered by this Windows/);
  t.notOk(v2.state().services.sshd, 'no sshd');

  const denied = freshVm();
  denied.aclAccessDenied = true;
  const v3 = vm(t, denied);
  const r3 = v3.provision('install_openssh.ps1');
  t.equal(r3.code, 1);
  t.match(r3.stderr, /icacls on C:\\ProgramData\\ssh\\administrators_authorized_keys exited with 5/);
});

t.test('set_crash_dump.ps1: kernel dump, overwrite, auto reboot, kept on low disk; a Windows without CrashControl fails it', { skip, timeout: 120_000 }, async (t) => {
  const v = vm(t);
  const r = v.provision('set_crash_dump.ps1');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /crash dumps: kernel, overwrite, auto reboot, dedicated dump file C:\\fleetgate-dump\.sys/);
  t.same(v.reg(CRASH, 'DedicatedDumpFile'), { type: 'REG_SZ', value: WINDOWS_DEDICATED_DUMP_FILE }, 'the dedicated dump file the offline collector reads');
  t.same(v.reg(CRASH, 'DumpFileSize'), { type: 'REG_DWORD', value: 2048 });
  t.same(v.reg(CRASH, 'CrashDumpEnabled'), { type: 'REG_DWORD', value: 2 });
  t.same(v.reg(CRASH, 'AutoReboot'), { type: 'REG_DWORD', value: 1 });
  t.same(v.reg(CRASH, 'Overwrite'), { type: 'REG_DWORD', value: 1 });
  t.same(v.reg(CRASH, 'AlwaysKeepMemoryDump'), { type: 'REG_DWORD', value: 1 });
  t.same(v.reg(CRASH, 'DumpFile'), { type: 'REG_EXPAND_SZ', value: '%SystemRoot%\\MEMORY.DMP' }, 'unexpanded, as REG_EXPAND_SZ');
  t.same(v.reg(CRASH, 'MinidumpDir'), { type: 'REG_EXPAND_SZ', value: '%SystemRoot%\\Minidump' }, 'what it does not set is left');

  const none = freshVm();
  delete none.registry[CRASH];
  const v2 = vm(t, none);
  const r2 = v2.provision('set_crash_dump.ps1');
  t.equal(r2.code, 1, 'Set-ItemProperty on a missing key stops the script');
  t.match(r2.stderr, /Cannot find path 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\CrashControl'/);
});

t.test('install_node.ps1: node.exe moved to C:\\fleetgate\\node, on the machine Path once, and run', { skip, timeout: 120_000 }, async (t) => {
  const v = vm(t);
  const r = v.provision('install_node.ps1');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp(`node ${process.version.replace(/\./g, '\\.')} in C:\\\\fleetgate\\\\node`));
  t.ok(existsSync(v.host('C:\\fleetgate\\node\\node.exe')));
  t.notOk(existsSync(v.host('C:\\fleetgate\\node.exe')), 'moved, not copied');
  const entries = v.state().machineEnv.Path!.split(';');
  t.same(entries.filter((e) => /^C:\\fleetgate\\node$/.test(e)).length, 1, 'the node folder on the machine Path');
  t.equal(entries[0], 'C:\\Windows\\system32', 'the Path before it kept');

  const already = freshVm();
  already.machineEnv.Path += ';C:\\fleetgate\\node';
  const v2 = vm(t, already);
  t.equal(v2.provision('install_node.ps1').code, 0);
  t.equal(v2.state().machineEnv.Path, already.machineEnv.Path, 'an entry already there is not added twice');
});

t.test('install_node.ps1 fails when node.exe does not run or was not copied in', { skip, timeout: 120_000 }, async (t) => {
  const v = vm(t);
  const r = v.provision('install_node.ps1', VARS, { FLEETGATE_NODE: '/bin/false' });
  t.equal(r.code, 1);
  t.match(r.stderr, /node\.exe --version exited with 1/);
  const v2 = vm(t, freshVm(), { node: false });
  const r2 = v2.provision('install_node.ps1');
  t.equal(r2.code, 1);
  t.match(r2.stderr, /node\.exe/);
});

t.test('enable_test_signing.ps1: bcdedit /set testsigning on; not wanted; Secure Boot on; not UEFI', { skip, timeout: 180_000 }, async (t) => {
  const v = vm(t);
  const r = v.provision('enable_test_signing.ps1');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /test signing on from the next boot/);
  t.same(v.calls('bcdedit.exe'), [['/set', 'testsigning', 'on']]);
  t.equal(v.state().bcd?.entries?.['{current}']?.testsigning, 'Yes');

  const off = vm(t);
  const r2 = off.provision('enable_test_signing.ps1', { ...VARS, test_signing: 'false' });
  t.equal(r2.code, 0);
  t.match(r2.stdout, /test signing not wanted/);
  t.same(off.calls('bcdedit.exe'), [], 'bcdedit not run');

  const sb = vm(t, { ...freshVm(), secureBoot: true });
  const r3 = sb.provision('enable_test_signing.ps1');
  t.equal(r3.code, 1);
  t.match(r3.stderr, /Secure Boot is on: test signing cannot be enabled/);
  t.same(sb.calls('bcdedit.exe'), [], 'refused before bcdedit');

  const bios = vm(t, { ...freshVm(), secureBoot: 'not-uefi' });
  const r4 = bios.provision('enable_test_signing.ps1');
  t.equal(r4.code, 0, 'Confirm-SecureBootUEFI throwing means no Secure Boot in the way');
  t.equal(bios.state().bcd?.entries?.['{current}']?.testsigning, 'Yes');
});

t.test("enable_test_signing.ps1 fails when bcdedit refuses (Secure Boot policy, its recorded refusal)", { skip: skip || samplesSkip, timeout: 120_000 }, async (t) => {
  // Confirm-SecureBootUEFI cannot tell (access denied), but the policy protects the value.
  const v = vm(t, { ...freshVm(), secureBoot: 'access-denied', bcd: { secureBootPolicy: true } });
  const r = v.provision('enable_test_signing.ps1');
  t.equal(r.code, 1);
  t.match(r.stdout, /The value is protected by the secure boot policy and cannot be modified or deleted\./, "bcdedit's recorded words");
  t.match(r.stderr, /bcdedit \/set testsigning on exited with 1/);
  t.notOk(v.state().bcd?.entries?.['{current}']?.testsigning);
});

t.test('install_update.ps1: wusa /quiet /norestart, 3010 passes with the .msu removed; installed already; no update given', { skip, timeout: 180_000 }, async (t) => {
  const state = freshVm();
  state.updates.packages[msuHash] = { kb: '5101650', ubr: 8875, rebootRequired: true };
  const v = vm(t, state, { msu: MSU });
  const r = v.provision('install_update.ps1');
  t.equal(r.code, 3010, r.stderr);
  t.ok(stepFor('install_update.ps1').validExitCodes.includes(r.code), "within the template's valid_exit_codes");
  t.match(r.stdout, /wusa exited with 3010; reboot follows/);
  const wusa = v.calls('wusa.exe');
  t.equal(wusa.length, 1);
  t.equal(wusa[0]![0], 'C:\\fleetgate\\update.msu', 'the quotes around the path are gone by the time wusa sees it');
  t.same(wusa[0]!.slice(1), ['/quiet', '/norestart']);
  t.notOk(v.state().restartedByWusa, 'wusa did not restart Windows under Packer');
  t.ok(v.state().updates.installed.some((u) => u.hotFixId === 'KB5101650'));
  t.equal(v.state().updates.pendingUbr, 8875, 'the UBR waits for the restart');
  t.notOk(existsSync(v.host('C:\\fleetgate\\update.msu')), 'the .msu removed');

  const again = v.provision('install_update.ps1');
  t.equal(again.code, 1, 'the .msu is gone: a second run says so');
  t.match(again.stderr, /the update C:\\fleetgate\\update\.msu is not there/);

  const had = freshVm();
  had.updates.packages[msuHash] = { kb: '5101650' };
  had.updates.installed.push({ hotFixId: 'KB5101650', description: 'Security Update', installedOn: '7/8/2026' });
  const v2 = vm(t, had, { msu: MSU });
  const r2 = v2.provision('install_update.ps1');
  t.equal(r2.code, 0, 'wusa 2359302 (0x240006, already installed) is success');
  t.match(r2.stdout, /KB5101650 is installed already/);
  t.notOk(existsSync(v2.host('C:\\fleetgate\\update.msu')), 'and the .msu is not left in the image');

  const noReboot = freshVm();
  noReboot.updates.packages[msuHash] = { kb: '5101650', ubr: 8875, rebootRequired: false };
  const v3 = vm(t, noReboot, { msu: MSU });
  const r3 = v3.provision('install_update.ps1');
  t.equal(r3.code, 0);
  t.match(r3.stdout, /wusa exited with 0/);

  const v4 = vm(t);
  const r4 = v4.provision('install_update.ps1', { ...VARS, msu_path: '', kb: '' });
  t.equal(r4.code, 0);
  t.match(r4.stdout, /no cumulative update given: the image keeps the ISO patch level/);
  t.same(v4.calls('wusa.exe'), []);
});

t.test('install_update.ps1 fails on any other wusa code: not applicable, a failed install', { skip, timeout: 120_000 }, async (t) => {
  const v = vm(t, freshVm(), { msu: MSU }); // a package this Windows does not know: WU_E_NOT_APPLICABLE
  const r = v.provision('install_update.ps1');
  t.equal(r.code, 1);
  t.match(r.stderr, /wusa C:\\fleetgate\\update\.msu exited with -2145124329 \(0x80240017\)/);
  t.ok(existsSync(v.host('C:\\fleetgate\\update.msu')), 'the .msu kept');

  const failing = freshVm();
  failing.updates.packages[msuHash] = { kb: '5101650', exitCode: 0x80070643 };
  const v2 = vm(t, failing, { msu: MSU });
  const r2 = v2.provision('install_update.ps1');
  t.equal(r2.code, 1);
  t.match(r2.stderr, /\(0x80070643\)/);
  t.notOk(v2.state().updates.installed.some((u) => u.hotFixId === 'KB5101650'));
});

t.test('disable_updates.ps1: the AU policy key made when missing, its other values kept when there', { skip, timeout: 120_000 }, async (t) => {
  const v = vm(t);
  const r = v.provision('disable_updates.ps1');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /automatic updates off/);
  t.same(v.reg(AU, 'NoAutoUpdate'), { type: 'REG_DWORD', value: 1 });
  t.same(v.reg(AU, 'AUOptions'), { type: 'REG_DWORD', value: 1 });

  const had = freshVm();
  had.registry[AU] = { AUOptions: { type: 'REG_DWORD', value: 4 }, ScheduledInstallDay: { type: 'REG_DWORD', value: 0 } };
  const v2 = vm(t, had);
  t.equal(v2.provision('disable_updates.ps1').code, 0);
  t.same(v2.reg(AU, 'AUOptions'), { type: 'REG_DWORD', value: 1 });
  t.same(v2.reg(AU, 'ScheduledInstallDay'), { type: 'REG_DWORD', value: 0 }, 'not wiped: New-Item -Force only when the key is missing');
  t.same(v2.state().services.wuauserv, had.services.wuauserv, 'the update service left alone');
});

t.test('write_image_facts.ps1: build, UBR, KBs, Secure Boot, HVCI, test signing and the host key fingerprint, as facts.ts reads them', { skip, timeout: 180_000 }, async (t) => {
  const state = freshVm();
  state.registry[CV]!.UBR = { type: 'REG_DWORD', value: 8875 };
  state.registry['HKLM:\\SYSTEM\\CurrentControlSet\\Control'] = { SystemStartOptions: { type: 'REG_SZ', value: ' NOEXECUTE=OPTIN  TESTSIGNING  NOVGA' } };
  state.updates.installed.push({ hotFixId: 'KB5101650', description: 'Security Update', installedOn: '7/8/2026' });
  const v = vm(t, state);
  hostKey(v);
  const r = v.provision('write_image_facts.ps1');
  t.equal(r.code, 0, r.stderr);
  const file = v.host('C:\\fleetgate\\image-facts.json');
  const text = readFileSync(file, 'utf8');
  t.notOk(text.startsWith('\ufeff'), 'UTF-8 without a BOM');
  const facts = parseFacts(file, text);
  t.same(facts, {
    currentBuild: '26100',
    ubr: 8875,
    hotFixIds: ['KB5060842', 'KB5101650'],
    secureBoot: false,
    hvci: false,
    testSigning: true,
    hostKeyFingerprint: sshFingerprint(v.host('C:\\ProgramData\\ssh\\ssh_host_ed25519_key.pub')),
  });
  t.same(JSON.parse(r.stdout), JSON.parse(text), 'the same JSON on stdout');

  const other = freshVm();
  other.secureBoot = 'not-uefi';
  delete other.cim['root\\Microsoft\\Windows\\DeviceGuard:Win32_DeviceGuard'];
  const v2 = vm(t, other);
  hostKey(v2);
  const r2 = v2.provision('write_image_facts.ps1', { ...VARS, kb: '' });
  t.equal(r2.code, 0, r2.stderr);
  const f2 = parseFacts('f.json', readFileSync(v2.host('C:\\fleetgate\\image-facts.json'), 'utf8'));
  t.match(f2, { ubr: 4349, secureBoot: null, hvci: null, testSigning: false }, 'unknown is null, not false');

  const hvci = freshVm();
  hvci.cim['root\\Microsoft\\Windows\\DeviceGuard:Win32_DeviceGuard'] = { SecurityServicesRunning: [1, 2], SecurityServicesConfigured: [1, 2], VirtualizationBasedSecurityStatus: 2 };
  const v3 = vm(t, hvci);
  hostKey(v3);
  t.equal(v3.provision('write_image_facts.ps1', { ...VARS, kb: '' }).code, 0);
  t.equal(parseFacts('f.json', readFileSync(v3.host('C:\\fleetgate\\image-facts.json'), 'utf8')).hvci, true, 'SecurityServicesRunning has 2');
});

t.test('write_image_facts.ps1 fails when the wanted KB is not installed', { skip, timeout: 120_000 }, async (t) => {
  const v = vm(t);
  hostKey(v);
  const r = v.provision('write_image_facts.ps1');
  t.equal(r.code, 1);
  t.match(r.stderr, /KB5101650 is not installed \(Get-HotFix: KB5060842\)/);
  t.notOk(existsSync(v.host('C:\\fleetgate\\image-facts.json')), 'no facts written');
});

t.test('finish_image.ps1: auto-logon cleared, WinRM disabled from the next boot, its rules off; nothing to clear is fine', { skip, timeout: 120_000 }, async (t) => {
  const v = vm(t);
  const r = v.provision('finish_image.ps1');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /WinRM disabled from the next boot; auto-logon cleared/);
  t.same(v.reg(WINLOGON, 'AutoAdminLogon'), { type: 'REG_SZ', value: '0' }, 'still REG_SZ');
  t.equal(v.reg(WINLOGON, 'DefaultPassword'), undefined, 'the password is gone');
  t.same(v.reg(WINLOGON, 'DefaultUserName'), { type: 'REG_SZ', value: 'fleetgate' });
  t.match(v.state().services.WinRM, { startType: 'Disabled', status: 'Running' }, 'Packer still talks to it until the shutdown');
  t.equal(v.state().firewallRules['WINRM-HTTP-In-TCP']!.enabled, false);
  t.equal(v.state().firewallRules['WINRM-HTTP-In-TCP-PUBLIC']!.enabled, false);
  t.equal(v.state().firewallRules['CoreNet-DHCP-In']!.enabled, true, 'other groups untouched');

  const bare = freshVm();
  delete bare.registry[WINLOGON]!.DefaultPassword;
  bare.firewallRules = {};
  const v2 = vm(t, bare);
  const r2 = v2.provision('finish_image.ps1');
  t.equal(r2.code, 0, 'no password and no WinRM rules are not errors');
  t.same(v2.reg(WINLOGON, 'AutoAdminLogon'), { type: 'REG_SZ', value: '0' });
});

t.test("the whole build in the template's order, then `images manifest` from the facts the guest wrote", { skip, timeout: 300_000 }, async (t) => {
  const state = freshVm();
  state.updates.packages[msuHash] = { kb: '5101650', ubr: 8875, rebootRequired: true };
  const v = vm(t, state, { msu: MSU });
  for (const step of templateSteps(VARS)) {
    if (step.kind === 'restart') {
      v.restart();
      continue;
    }
    const r = v.run(step.script, step.env);
    t.ok(step.validExitCodes.includes(r.code), `${step.script} exited with ${r.code}${r.code ? `: ${r.stderr}` : ''}`);
  }
  const s = v.state();
  t.match(s.services, { sshd: { startType: 'Automatic', status: 'Running' }, WinRM: { startType: 'Disabled' } });
  const factsFile = v.host('C:\\fleetgate\\image-facts.json');
  const facts = parseFacts(factsFile, readFileSync(factsFile, 'utf8'));
  t.match(facts, { currentBuild: '26100', ubr: 8875, testSigning: true, secureBoot: false, hvci: false });
  t.equal(facts.hostKeyFingerprint, sshFingerprint(v.host('C:\\ProgramData\\ssh\\ssh_host_ed25519_key.pub')), "the key sshd made at its first start");
  const disk = path.join(v.dir, 'disk.qcow2');
  writeFileSync(disk, 'disk');
  const manifest = await manifestFromFacts(facts, {
    release: 'win11-24h2', dir: v.dir, disk: 'disk.qcow2', format: 'qcow2', firmware: 'ovmf', secureBoot: false, tpm: false, memoryMiB: 4096, cpus: 2, sshUser: 'fleetgate', inputsHash: 'a'.repeat(64),
  });
  t.equal(manifest.name, 'win11-24h2-26100.8875');
  t.same(manifest.os.kbs, [5060842, 5101650]);
  t.match(manifest.os.features, { testSigning: true, hvci: false, secureBoot: false });
});
