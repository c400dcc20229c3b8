import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { InputError } from '../../../lib/errors.ts';
import { parseComputerInfo, parseCurrentVersionListing, parseIdentityText, parseSysteminfo, type TextIdentity } from './identity-text.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const samplesDir = path.resolve(repo, '../shared/samples/os');

/** What each real sample must give; a new sample only has to parse and name a build or a UBR. */
const EXPECTED: Record<string, Partial<TextIdentity>> = {
  'get-computerinfo_WindowsUBR_powershell-pr2995.txt': {
    sources: ['get-computerinfo'],
    build: null, ubr: 577, patchLevel: null,
    edition: 'Enterprise', productName: 'Windows 10 Enterprise', releaseId: '1607', installationType: 'Client',
  },
  'osversion_vs_UBR_dotnet-runtime76823.txt': {
    // The [Environment]::OSVersion.Revision "0" below the UBR must not be taken for it.
    sources: ['registry'], build: null, ubr: 2006, patchLevel: null,
  },
  'systeminfo_and_registry_UBR_privatecloud-diag114.txt': {
    sources: ['systeminfo', 'registry'],
    build: 14393, ubr: 2580, patchLevel: '14393.2580', version: '10.0.14393',
    productName: 'Microsoft Windows Server 2016 Datacenter',
  },
  'systeminfo_win81_winfsp334.txt': {
    sources: ['systeminfo'], build: 9600, ubr: null, patchLevel: null, version: '6.3.9600',
    productName: 'Microsoft Windows 8.1 Enterprise',
  },
};

const samplesMissing = existsSync(samplesDir)
  ? false
  : `samples not found at ${samplesDir} (shared/ is beside the repo in CI): real-output tests skipped`;

t.test('every recorded sample in shared/samples/os parses', { skip: samplesMissing }, async (t) => {
  const files = readdirSync(samplesDir).filter((f) => f.endsWith('.txt'));
  t.ok(files.length > 0, 'there are samples');
  for (const f of files) {
    const file = path.join(samplesDir, f);
    const id = parseIdentityText(readFileSync(file, 'utf8'), file);
    t.ok(id.build !== null || id.ubr !== null, `${f}: names a build or a UBR`);
    if (id.ubr === null || id.build === null) t.type(id.ubrReason, 'string', `${f}: says why there is no patch level`);
    const expected = EXPECTED[f];
    if (expected) t.match(id, expected, f);
    else t.comment(`${f}: no expectations recorded for this sample; it parsed as ${JSON.stringify(id)}`);
  }
  const win81 = path.join(samplesDir, 'systeminfo_win81_winfsp334.txt');
  if (existsSync(win81)) {
    const id = parseSysteminfo(readFileSync(win81, 'utf8'), win81);
    t.match(id.ubrReason, /systeminfo never shows the UBR/);
  }
});

t.test('systeminfo: build only, with the reason; errors name file and line', async (t) => {
  const text = '# Source: test\nOS Name:                   Microsoft Windows 11 Pro\nOS Version:                10.0.26100 N/A Build 26100\n';
  t.match(parseSysteminfo(text, 'si.txt'), { build: 26100, ubr: null, patchLevel: null, version: '10.0.26100', ubrReason: /never shows the UBR/ });
  t.throws(() => parseSysteminfo('OS Version: 10.0.26100 N/A Build 22631\n', 'si.txt'), { message: /^si\.txt:1: .*build 26100 but "Build 22631"/ });
  t.throws(() => parseSysteminfo('x\nOS Version: ten\n', 'si.txt'), { message: /^si\.txt:2: systeminfo OS Version: expected/ });
  t.throws(() => parseSysteminfo('Nom du système: Windows\n', 'fr.txt'), InputError);
});

t.test('Get-ComputerInfo: WindowsUBR with OsBuildNumber gives the patch level', async (t) => {
  const text = [
    'WindowsBuildLabEx                                       : 26100.1.amd64fre.ge_release.240331-1435',
    'WindowsEditionId                                        : Professional',
    'WindowsInstallationType                                 : Client',
    'WindowsProductName                                      : Windows 10 Pro',
    'WindowsVersion                                          : 2009',
    'WindowsUBR                                              : 4349',
    'OsName                                                  : Microsoft Windows 11 Pro',
    'OsVersion                                               : 10.0.26100',
    'OsBuildNumber                                           : 26100',
  ].join('\r\n');
  t.match(parseComputerInfo(text, 'gci.txt'), { build: 26100, ubr: 4349, patchLevel: '26100.4349', releaseId: '2009', edition: 'Professional' });
  const noBuildNumber = text.split('\r\n').filter((l) => !l.startsWith('OsBuildNumber')).join('\n');
  t.match(parseComputerInfo(noBuildNumber, 'gci.txt'), { build: 26100, patchLevel: '26100.4349' }, 'OsVersion names the build too');
  t.throws(() => parseComputerInfo('WindowsUBR : lots\n', 'gci.txt'), { message: /^gci\.txt:1: WindowsUBR: expected a whole number/ });
  t.throws(() => parseComputerInfo('OsName : x\n', 'gci.txt'), { message: /no "WindowsUBR :"/ });
});

t.test('registry listings: Get-ItemProperty, reg query and tables', async (t) => {
  const gip = ['CurrentBuild              : 22631', 'UBR                       : 5472', 'EditionID                 : Enterprise', 'DisplayVersion            : 23H2', 'PSPath                    : Microsoft.PowerShell.Core\\Registry::HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion'].join('\n');
  t.match(parseCurrentVersionListing(gip, 'gip.txt'), { build: 22631, ubr: 5472, patchLevel: '22631.5472', displayVersion: '23H2' });
  const reg = ['HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion', '    CurrentBuild    REG_SZ    19045', '    UBR    REG_DWORD    0x17b6'].join('\r\n');
  t.match(parseCurrentVersionListing(reg, 'reg.txt'), { build: 19045, ubr: 6070, patchLevel: '19045.6070' });
  const table = 'Build UBR\n----- ---\n20348 3807\n';
  t.match(parseCurrentVersionListing(table, 't.txt'), { build: 20348, ubr: 3807 });
  const osVersion = 'Major  Minor  Build  Revision\n-----  -----  -----  --------\n10     0      19045  0\n';
  t.match(parseIdentityText(osVersion, 'v.txt'), { build: 19045, ubr: null, patchLevel: null }, 'Revision 0 is [Environment]::OSVersion, not the UBR');
  t.throws(() => parseIdentityText('Build UBR\n----- ---\n20348\n', 't.txt'), { message: /^t\.txt:3: table row: expected 2 values/ });
  t.throws(() => parseIdentityText('CurrentBuild : 19045\nUBR : 1\nCurrentBuildNumber : 19044\n', 'x.txt'), {
    message: /^x\.txt:3: build is 19044 here but 19045 on line 1/,
  });
  t.throws(() => parseCurrentVersionListing('WindowsUBR : 5\n', 'x.txt'), { message: /registry listing: no UBR/ });
});

t.test('text with no identity at all is an InputError naming the file', async (t) => {
  t.throws(() => parseIdentityText('# Source: nowhere\nhello\n', 'empty.txt'), { name: 'InputError', message: /^empty\.txt: no OS identity found/ });
});

t.test('hostile lines (#16): long runs of spaces in systeminfo and reg query lines read in one pass, with the old answers', async (t) => {
  const pad = ' '.repeat(200_000);
  // The old `\s+(?:.*?\s)?Build\s+(\d+)\s*$` retried every split of a run of spaces that did not end the line.
  t.throws(() => parseSysteminfo(`OS Version:${pad}10.0.26100${pad}x\n`, 'si.txt'), { message: /^si\.txt:1: systeminfo OS Version: expected/ });
  t.match(parseSysteminfo(`OS Name:${pad}Microsoft Windows 11 Pro${pad}\nOS Version:${pad}10.0.26100${pad}N/A Build 26100${pad}\n`, 'si.txt'), {
    build: 26100,
    version: '10.0.26100',
    productName: 'Microsoft Windows 11 Pro',
  });
  t.match(parseCurrentVersionListing(`    CurrentBuild${pad}REG_SZ${pad}19045${pad}\n    UBR    REG_DWORD    0x17b6\n`, 'reg.txt'), { build: 19045, ubr: 6070 });
  t.match(parseCurrentVersionListing('    ProductName    REG_SZ    Windows 10 Pro  \n    CurrentBuild    REG_SZ    19045\n    UBR    REG_DWORD    0x1\n', 'reg.txt'), {
    productName: 'Windows 10 Pro',
  }, 'a value with spaces keeps them');
});
