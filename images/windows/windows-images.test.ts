// What can be checked here about the Windows image recipes (no Windows, no Packer, no PowerShell):
// the answer file is well-formed XML (raw and as Packer renders it), the HCL2 templates hold together,
// the provisioning scripts pass a tokenizer-level check (not a PowerShell parse), the manifest format
// rejects bad manifests with line and column, `images plan` lists and finds images, and `images verify`
// compares a fake identity.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { InputError } from '../../lib/errors.ts';
import { runFleetgate } from '../../harness/cli/run-cli.test-helper.ts';
import { ImageMismatch, providerFor, verifyImage } from '../../harness/cli/commands/images.ts';
import { HYPERV_SCRIPTS, hostScriptSource } from '../../harness/providers/hyperv/encode-host.ts';
import { checkPackerTemplate, checkPackerVarFile } from './check/hcl.ts';
import { checkPowerShellSyntax } from './check/powershell.ts';
import { checkXmlWellFormed } from './check/xml.ts';
import { manifestFromFacts, parseFacts } from './facts.ts';
import { parseWindowsManifest, type WindowsImageManifest } from './manifest.ts';
import { compareIdentity, type GuestIdentityFacts } from './verify.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const read = (rel: string) => readFileSync(path.join(HERE, rel), 'utf8');

/** Packer's templatefile() for what the answer file uses: ${name} and %{ if x ~}...%{ endif ~}. */
function renderTemplate(text: string, vars: Record<string, string | boolean>): string {
  return text
    .replace(/%\{ if (\w+) ~\}\n([\s\S]*?)%\{ endif ~\}\n/g, (_, name: string, body: string) => (vars[name] ? body : ''))
    .replace(/\$\{(\w+)\}/g, (_, name: string) => String(vars[name]));
}

t.test('the answer file is well-formed XML, raw and rendered for both builders', async (t) => {
  const raw = read('answer/autounattend.xml');
  t.match(checkXmlWellFormed('autounattend.xml', raw), { root: 'unattend' });
  for (const virtio of [true, false]) {
    const xml = renderTemplate(raw, { image_name: 'Windows 11 Enterprise Evaluation', admin_password: 'Pa55-word', virtio, virtio_os: 'w11' });
    t.ok(checkXmlWellFormed('rendered.xml', xml).elements > 50, `rendered (virtio ${virtio})`);
    t.equal(xml.includes('viostor'), virtio);
  }
  // templatefile() does not escape: a password with < or & would break the file (README says so).
  t.throws(() => checkXmlWellFormed('r.xml', renderTemplate(raw, { image_name: 'x', admin_password: 'a<b', virtio: false, virtio_os: 'w11' })), InputError);
  t.match(raw, /<Key>\/IMAGE\/NAME<\/Key>/);
  t.match(raw, /<Type>EFI<\/Type>/, 'UEFI layout (Generation 2, OVMF)');
  t.match(raw, /<Group>Administrators<\/Group>/, 'a local administrator');
  t.match(raw, /<SkipMachineOOBE>true<\/SkipMachineOOBE>/, 'unattended OOBE');
});

t.test('the XML check finds what breaks an answer file, with line and column', async (t) => {
  const bad: [string, RegExp][] = [
    ['<a><b></a>', /1:7: end tag <\/a> closes <b>/],
    ['<a>\n  <b x="1" x="2"/></a>', /2:12: attribute x repeated/],
    ['<a>x & y</a>', /1:6: a bare &/],
    ['<a b=c/>', /1:6: .*must be quoted/],
    ['<a></a><b/>', /second root element/],
    ['<a><!-- x -- y --></a>', /'--' inside a comment/],
    ['<a>', /<a> is never closed/],
    ['text<a/>', /text before the root element/],
  ];
  for (const [xml, msg] of bad) t.throws(() => checkXmlWellFormed('x.xml', xml), { name: 'InputError', message: msg }, xml);
  t.doesNotThrow(() => checkXmlWellFormed('x.xml', '<?xml version="1.0"?>\n<a b="&amp;&#65;">t&lt;<![CDATA[<raw>]]><c/></a>\n'));
});

t.test('the Packer template: hyperv-iso and qemu sources, a build, every var. and local. declared', async (t) => {
  const summary = checkPackerTemplate('windows.pkr.hcl', read('packer/windows.pkr.hcl'), { sources: ['hyperv-iso', 'qemu'] });
  t.same(summary.sources, ['hyperv-iso.windows', 'qemu.windows']);
  for (const v of ['release', 'iso_path', 'iso_checksum', 'msu_path', 'memory_mib', 'cpus', 'node_exe', 'secure_boot']) t.ok(summary.variables.includes(v), `variable ${v}`);
  const releases = readdirSync(path.join(HERE, 'packer/releases'));
  t.same(releases.sort(), ['server-2019', 'server-2022', 'server-2025', 'win10-22h2', 'win11-24h2', 'win11-25h2'].map((r) => `${r}.pkrvars.hcl`));
  for (const f of releases) {
    const vars = checkPackerVarFile(f, read(`packer/releases/${f}`), summary.variables);
    t.ok(vars.has('release') && vars.has('image_name'), `${f}: release and image`);
    const text = read(`packer/releases/${f}`);
    // windows.md section 3: test signing is blocked while Secure Boot is on.
    t.notOk(/test_signing\s*=\s*true/.test(text) && /secure_boot\s*=\s*true/.test(text), `${f}: not test signing with Secure Boot`);
    t.match(text, new RegExp(`release\\s*=\\s*"${f.replace('.pkrvars.hcl', '')}"`), `${f}: names its own release`);
  }
});

t.test('the HCL check finds undeclared variables, unbalanced blocks and bad sources', async (t) => {
  const ok = 'variable "a" {\n  type = string\n}\nsource "qemu" "w" {\n  x = "${var.a}-{"\n}\nbuild {\n  sources = ["source.qemu.w"]\n}\n';
  t.same(checkPackerTemplate('t.hcl', ok, { sources: ['qemu'] }).sources, ['qemu.w'], 'a brace inside a string does not count');
  t.throws(() => checkPackerTemplate('t.hcl', ok.replace('var.a', 'var.b')), { message: /t\.hcl:5:\d+: var\.b is used but no variable "b"/ });
  t.throws(() => checkPackerTemplate('t.hcl', ok.replace('build {', 'build {{')), { message: /never closed/ });
  t.throws(() => checkPackerTemplate('t.hcl', ok.replace('source.qemu.w', 'source.qemu.x')), { message: /source\.qemu\.x, which no source block declares/ });
  t.throws(() => checkPackerTemplate('t.hcl', ok, { sources: ['hyperv-iso'] }), { message: /no source "hyperv-iso"/ });
  t.throws(() => checkPackerTemplate('t.hcl', ok.replace('"${var.a}-{"', '"unterminated')), { message: /string is not closed/ });
  t.throws(() => checkPackerVarFile('r.pkrvars.hcl', 'a = 1\nzzz = 2\n', ['a']), { message: /r\.pkrvars\.hcl:2: zzz is not a variable/ });
});

t.test('provisioning and Hyper-V host scripts pass the tokenizer check (not a PowerShell parse)', async (t) => {
  const provision = readdirSync(path.join(HERE, 'provision')).filter((f) => f.endsWith('.ps1'));
  t.ok(provision.length >= 7);
  for (const f of provision) t.doesNotThrow(() => checkPowerShellSyntax(f, read(`provision/${f}`)), f);
  for (const s of HYPERV_SCRIPTS) t.doesNotThrow(() => checkPowerShellSyntax(`${s}.ps1`, hostScriptSource(s), { forbidHereStrings: true }), `host ${s}`);
  t.match(read('provision/install_openssh.ps1'), /Add-WindowsCapability -Online -Name 'OpenSSH\.Server~~~~0\.0\.1\.0'/);
  t.match(read('provision/install_openssh.ps1'), /HKLM:\\SOFTWARE\\OpenSSH' -Name DefaultShell/);
  t.match(read('provision/install_openssh.ps1'), /\$shell = Join-Path \$env:SystemRoot 'System32\\cmd\.exe'/, 'the one shell: cmd.exe, as encode.ts and the heartbeat assume');
  t.match(read('provision/install_openssh.ps1'), /S-1-5-32-544.*S-1-5-18/, 'administrators_authorized_keys: Administrators + SYSTEM');
  t.match(read('provision/enable_test_signing.ps1'), /bcdedit\.exe \/set testsigning on/);
  t.match(read('provision/set_crash_dump.ps1'), /CrashDumpEnabled -Value 2/);
  t.match(read('provision/install_update.ps1'), /wusa\.exe.*'\/quiet', '\/norestart'/);
  t.match(read('provision/write_image_facts.ps1'), /Get-HotFix/);
});

t.test('the tokenizer check finds broken scripts, with line and column', async (t) => {
  const stop = "$ErrorActionPreference = 'Stop'\n";
  const bad: [string, RegExp][] = [
    [`${stop}if ($a) { x\n`, /'\{' is never closed/],
    [`${stop}$a = 'open\n`, /single-quoted string is never closed/],
    [`${stop}$a = "x $(Get-Date"\n`, /never closed/],
    [`${stop}$h = @' text\n'@\n`, /2:6: here-string opener @' must end its line/],
    [`${stop}$h = @'\n  '@\n`, /never closed by '@ at the start of a line/],
    [`${stop}$a = (1]\n`, /'\]' closes '\('/],
    ['Write-Output 1\n', /no `\$ErrorActionPreference = 'Stop'` line/],
  ];
  for (const [ps, msg] of bad) t.throws(() => checkPowerShellSyntax('x.ps1', ps), { name: 'InputError', message: msg }, ps);
  t.doesNotThrow(() => checkPowerShellSyntax('x.ps1', `${stop}# a { comment\n<# block ( #>\n$s = "a ""b"" \`" $($x.y) {"\n$t = 'it''s ('\n$h = @"\n { unbalanced inside\n"@\n`));
  t.throws(() => checkPowerShellSyntax('x.ps1', `${stop}$h = @'\nx\n'@\n`, { forbidHereStrings: true }), /here-strings are not allowed/);
});

// ---------------------------------------------------------------------------------------------------
// manifests

const goodManifest: WindowsImageManifest = {
  schema: 1,
  name: 'win11-24h2-26100.8875',
  os: { family: 'windows', release: 'win11-24h2', build: '26100', ubr: 8875, kbs: [5101650], features: { secureBoot: false, testSigning: true, hvci: false } },
  boot: { kind: 'disk', firmware: 'ovmf', secureBoot: false, tpm: true },
  disk: { path: 'disk.vhdx', format: 'vhdx', virtualBytes: 68719476736 },
  machine: { type: 'q35', memoryMiB: 4096, cpus: 2, crash: 'hv-crash' },
  ssh: { user: 'fleetgate', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}`, clientKey: 'id_ed25519' },
  files: [],
  inputsHash: 'x',
  builtAt: '2026-07-20T10:00:00Z',
};

t.test('manifest format: a good manifest passes; bad ones fail at their line and column', async (t) => {
  const text = JSON.stringify(goodManifest, null, 2);
  t.equal(parseWindowsManifest('m.json', text).os.ubr, 8875);
  const lineOf = (needle: string, s: string) => s.split('\n').findIndex((l) => l.includes(needle)) + 1;
  const cases: [string, string, RegExp][] = [
    ['"ubr": 8875', '"ubr": "8875"', /os\.ubr is "8875"; expected integer/],
    ['"format": "vhdx"', '"format": "vmdk"', /disk\.format is "vmdk"; expected one of: vhdx, qcow2/],
    [`"hostKeyFingerprint": "SHA256:${'A'.repeat(43)}"`, '"hostKeyFingerprint": "MD5:aa"', /expected SHA256:<43 base64 characters>/],
    ['"build": "26100"', '"build": "26100", "colour": "blue"', /unknown key "colour" in os/],
    ['"secureBoot": false,\n    "tpm"', '"secureBoot": true,\n    "tpm"', /test signing needs Secure Boot off/],
  ];
  for (const [from, to, msg] of cases) {
    const bad = text.replace(from, to);
    t.not(bad, text, `replaced ${from}`);
    const err = (() => {
      try {
        parseWindowsManifest('m.json', bad);
      } catch (e) {
        return e;
      }
      return undefined;
    })() as InputError;
    t.type(err, InputError);
    t.match(err.message, msg);
    t.ok(err.place.line !== undefined && err.place.column !== undefined, `line and column: ${err.message.split('\n')[0]}`);
    if (!/Secure Boot/.test(String(msg))) t.equal(err.place.line, lineOf(to.split('\n')[0]!.split(':')[0]!, bad), 'on the offending line');
  }
  t.throws(() => parseWindowsManifest('m.json', '{\n  "schema": 1,\n  "name": \n'), { message: /m\.json:\d+:\d+: YAML syntax error/ });
});

t.test('facts from the guest → a manifest (KBs from Get-HotFix, name from build.UBR)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fg-facts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'disk.vhdx'), 'vhdx');
  const facts = parseFacts('image-facts.json', JSON.stringify({ currentBuild: '26100', ubr: 8875, hotFixIds: ['KB5101650', 'KB5054979', 'KB5101650'], secureBoot: false, hvci: false, testSigning: true, hostKeyFingerprint: `SHA256:${'b'.repeat(43)}` }));
  const m = await manifestFromFacts(facts, { release: 'win11-24h2', dir, disk: 'disk.vhdx', format: 'vhdx', firmware: 'ovmf', secureBoot: false, tpm: true, memoryMiB: 4096, cpus: 2, sshUser: 'fleetgate', inputsHash: 'h' });
  t.equal(m.name, 'win11-24h2-26100.8875');
  t.same(m.os.kbs, [5054979, 5101650]);
  t.equal(m.files[0]!.sha256.length, 64);
  t.throws(() => parseFacts('f.json', '{"currentBuild": 26100}'), /currentBuild should be five digits/);
});

// ---------------------------------------------------------------------------------------------------
// images plan / verify

t.test('fleetgate images plan matrix/release-gate.yaml: one image per release and patch level, missing ones reported', async (t) => {
  const store = mkdtempSync(path.join(os.tmpdir(), 'fg-store-'));
  t.teardown(() => rmSync(store, { recursive: true, force: true }));
  const empty = runFleetgate(['images', 'plan', 'matrix/release-gate.yaml', '--json'], { env: { FLEETGATE_IMAGES: store } });
  t.equal(empty.code, 0, empty.stderr);
  const plan = JSON.parse(empty.stdout) as { images: { name: string; release: string; kb: number; patchLevel: string; status: string }[]; missing: number };
  const releases = ['win10-22h2', 'win11-24h2', 'win11-25h2', 'server-2019', 'server-2022', 'server-2025'];
  t.equal(plan.images.length, 12, 'six releases at two patch levels');
  for (const r of releases) t.equal(plan.images.filter((i) => i.release === r).length, 2, `${r}: two patch levels`);
  t.equal(new Set(plan.images.map((i) => `${i.release} ${i.patchLevel}`)).size, 12, 'one per release and patch level');
  t.ok(plan.images.every((i) => i.kb > 5000000 && /^\d{5}\.\d+$/.test(i.patchLevel)), 'each with its KB and build.UBR');
  t.equal(plan.missing, 12);
  const want = plan.images.find((i) => i.release === 'win11-24h2' && i.status === 'missing')!;

  // One present, one whose manifest disagrees with its folder's name.
  const present = { ...goodManifest, name: want.name, os: { ...goodManifest.os, ubr: Number(want.patchLevel.split('.')[1]), kbs: [want.kb] } };
  mkdirSync(path.join(store, want.name));
  writeFileSync(path.join(store, want.name, 'manifest.json'), JSON.stringify(present, null, 2));
  const other = plan.images.find((i) => i.release === 'server-2022')!;
  const wrong = { ...goodManifest, name: 'server-2022-20348.1', os: { ...goodManifest.os, release: 'server-2022', build: '20348', ubr: 1, kbs: [1] } };
  mkdirSync(path.join(store, other.name));
  writeFileSync(path.join(store, other.name, 'manifest.json'), JSON.stringify(wrong, null, 2));

  const human = runFleetgate(['images', 'plan', 'matrix/release-gate.yaml'], { env: { FLEETGATE_IMAGES: store } });
  t.equal(human.code, 0, human.stderr);
  t.match(human.stdout, /^matrix release-gate: 12 Windows images/);
  t.match(human.stdout, new RegExp(`present +${want.name.replace(/\./g, '\\.')} +KB${want.kb}`));
  t.match(human.stdout, new RegExp(`mismatched +${other.name.replace(/\./g, '\\.')} .*build\\.UBR 20348\\.1, the cell wants ${other.patchLevel.replace('.', '\\.')}; KBs KB1, the cell wants KB${other.kb}`));
  t.match(human.stdout, /1 present, 10 missing, 1 mismatched/);
  t.match(human.stdout, /missing +win10-22h2-19045\.\d+ +KB\d+/);
});

const identity: GuestIdentityFacts = { build: 26100, ubr: 8875, secureBoot: false, testSigning: true, hvci: false, crashDump: { kind: 'kernel', autoReboot: true, overwrite: true } };

t.test('images verify: the guest identity against the manifest (fake identity)', async (t) => {
  t.same(compareIdentity(goodManifest, identity), []);
  t.same(compareIdentity(goodManifest, { ...identity, ubr: 8655, testSigning: false, crashDump: { kind: 'automatic', autoReboot: true, overwrite: null } }), [
    { field: 'os.ubr', manifest: '8875', guest: '8655' },
    { field: 'os.features.testSigning', manifest: 'true', guest: 'false' },
    { field: 'crash dump kind', manifest: 'kernel', guest: 'automatic' },
    { field: 'crash dump Overwrite', manifest: 'true', guest: 'unknown' },
  ]);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fg-verify-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(goodManifest, null, 2));
  await t.rejects(verifyImage(dir, { identityOf: async () => identity }), /the disk disk\.vhdx is not in/);
  writeFileSync(path.join(dir, 'disk.vhdx'), '');
  const asked: string[] = [];
  const r = await verifyImage(dir, { identityOf: async (_d, m, p) => (asked.push(`${m.name} ${p}`), identity) });
  t.same(r.mismatches, []);
  t.same(asked, ['win11-24h2-26100.8875 hyperv'], 'a VHDX image boots on Hyper-V');
  t.equal(providerFor({ ...goodManifest, disk: { ...goodManifest.disk, format: 'qcow2' } }), 'qemu');
  t.ok(new ImageMismatch(dir, [{ field: 'os.ubr', manifest: '1', guest: '2' }]).message.includes('os.ubr is 2 in the guest, 1 in the manifest'));
});
