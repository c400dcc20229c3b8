// The Windows package manifest (fleetgate.driver.yaml beside the INF): read, checked, and refused with
// the file, line and what was expected.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { InputError } from '../../lib/errors.ts';
import { HARNESS_EXECUTABLES, readWindowsDriverManifest, serviceValuesOf } from './manifest.ts';

const FGFILTER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../packages/fgfilter');

function folder(text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-manifest-'));
  writeFileSync(path.join(dir, 'fleetgate.driver.yaml'), text);
  return dir;
}

const GOOD = [
  'kind: windows-minifilter',
  'service: fgfilter',
  'modes:',
  '  audit:   { key: Parameters, name: EnforcementMode, type: dword, value: 0 }',
  '  enforce: { key: Parameters, name: EnforcementMode, type: dword, value: 1 }',
  'allow:',
  '  key: Parameters',
  '  name: AllowedImages',
  '  executables:',
  ...HARNESS_EXECUTABLES.map((e) => `    - '${e}'`),
  '',
].join('\n');

t.test("fgfilter's manifest: enforce mode, the harness's executables allowed, denials in the Application log", async (t) => {
  const m = readWindowsDriverManifest(FGFILTER, 'fgfilter')!;
  t.equal(m.mode, 'enforce');
  t.match(m.denials, { eventLog: 'Application', provider: 'fgfilter' });
  t.same(serviceValuesOf(m), [
    { key: 'Parameters', name: 'EnforcementMode', type: 'dword', value: 1 },
    { key: 'Parameters', name: 'AllowedImages', type: 'multi-string', value: m.allow.executables },
  ]);
  for (const e of HARNESS_EXECUTABLES) t.ok(m.allow.executables.includes(e), e);
});

t.test('mode defaults to enforce; audit is chosen by name; no manifest is null', async (t) => {
  t.equal(readWindowsDriverManifest(folder(GOOD))!.mode, 'enforce');
  const audit = readWindowsDriverManifest(folder(GOOD.replace('service: fgfilter\n', 'service: fgfilter\nmode: audit\n')))!;
  t.match(serviceValuesOf(audit)[0], { name: 'EnforcementMode', value: 0 });
  t.equal(readWindowsDriverManifest(mkdtempSync(path.join(tmpdir(), 'fg-none-'))), null);
});

t.test('bad manifests name the file, the place and what was expected', async (t) => {
  const cases: Array<[string, RegExp]> = [
    [GOOD.replace("    - '%ProgramFiles%\\nodejs\\node.exe'\n", ''), /fleetgate\.driver\.yaml:\d+:\d+: .*the harness runs %ProgramFiles%\\nodejs\\node\.exe/],
    [GOOD.replace('type: dword, value: 1', "type: dword, value: 'one'"), /fleetgate\.driver\.yaml:5:\d+: .*dword value was expected/],
    [GOOD.replace('kind: windows-minifilter', 'kind: kext'), /fleetgate\.driver\.yaml:1:\d+/],
    [GOOD.replace('  name: AllowedImages\n', '  name: AllowedImages\n  extra: 1\n'), /fleetgate\.driver\.yaml:\d+:\d+/],
  ];
  for (const [text, re] of cases) {
    const err = (() => {
      try {
        readWindowsDriverManifest(folder(text), 'fgfilter');
        return null;
      } catch (e) {
        return e;
      }
    })();
    t.ok(err instanceof InputError, String(err));
    t.match(String((err as Error).message), re);
  }
  t.throws(() => readWindowsDriverManifest(folder(GOOD), 'otherflt'), /service fgfilter is not the one the INF installs \(otherflt\)/);
});
