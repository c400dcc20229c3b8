// INF parser: syntax, substitution, encodings, the minifilter facts, and InputError with file and line
// for every malformed input.
import t from 'tap';
import fc from 'fast-check';
import { InputError } from '../../lib/errors.ts';
import { INF_MAX_CHARS, INF_MAX_REFERENCED_ENTRIES, parseInf } from './inf.ts';

const MINI = `; comment line
[Version]
Signature = "$Windows NT$"
Class = ActivityMonitor
DriverVer = 01/02/2026,1.2.3.4
CatalogFile = x.cat

[DefaultInstall.NTamd64]
CopyFiles = X.Files

[defaultinstall.ntamd64.SERVICES]
AddService = %Svc%,,X.Service

[X.Service]
ServiceBinary = %12%\\x.sys
LoadOrderGroup = "FSFilter Activity Monitor"
Dependencies = FltMgr
AddReg = X.Reg

[X.Reg]
HKR,"Parameters\\Instances","DefaultInstance",0x00000000,%Inst%
HKR,"Parameters\\Instances\\"%Inst%,"Altitude",0x00000000,%Alt%
HKR,"Parameters\\Instances\\"%Inst%,"Flags",0x00010001,0x1

[X.Files]
x.sys

[DestinationDirs]
X.Files = 12

[Strings]
Svc = "xflt"
Inst = "xflt Instance"
Alt = "370000"
`;

function errorOf(text: string | Uint8Array): InputError {
  try {
    parseInf('t.inf', text);
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('expected an InputError');
}

t.test('minifilter facts from a small INF', async (t) => {
  const inf = parseInf('t.inf', MINI);
  t.equal(inf.version.class, 'ActivityMonitor');
  t.same(inf.version.driverVer, { date: '01/02/2026', version: '1.2.3.4', line: 5 });
  t.equal(inf.version.catalogFile, 'x.cat');
  t.equal(inf.installSection, 'DefaultInstall.NTamd64');
  t.equal(inf.services.length, 1);
  const s = inf.services[0]!;
  t.equal(s.name, 'xflt', '%Svc% substituted');
  t.equal(s.serviceBinary, '%12%\\x.sys', 'DIRID kept as written');
  t.equal(s.binaryName, 'x.sys');
  t.equal(s.loadOrderGroup, 'FSFilter Activity Monitor');
  t.same(s.dependencies, ['FltMgr']);
  t.equal(s.defaultInstance, 'xflt Instance');
  t.same(s.instances, [{ name: 'xflt Instance', altitude: '370000', flags: 1, line: 22 }], 'quoted prefix joined to %key%');
  t.same(inf.copyFiles[0]?.files, [{ name: 'x.sys', source: 'x.sys' }]);
  t.same(inf.copyFiles[0]?.destination, { dirid: 12, subdir: null, path: '%SystemRoot%\\System32\\drivers' });
  t.ok(inf.sections.has('x.reg'), 'section names are case-insensitive keys');
});

t.test('quotes, %%, comments and continuations', async (t) => {
  const inf = parseInf('t.inf', '[A]\nk = "say ""hi""; not a comment", 50%% ; comment\nlong = one,\\\n  two, \\\n three\n[Strings]\n');
  const a = inf.sections.get('a')!;
  t.same(a.entries[0], { key: 'k', fields: ['say "hi"; not a comment', '50%'], line: 2 });
  t.same(a.entries[1], { key: 'long', fields: ['one', 'two', 'three'], line: 3 }, 'continued line keeps its first line number');
});

t.test('repeated section headers merge; localized strings fill gaps', async (t) => {
  const inf = parseInf('t.inf', '[A]\nx=%a%\n[B]\n[a]\ny=%b%\n[Strings.0409]\na="loc-a"\nb="loc-b"\n[Strings]\na="plain-a"\n');
  t.same(inf.sections.get('a')!.entries.map((e) => [e.key, e.fields[0]]), [['x', 'plain-a'], ['y', 'loc-b']]);
});

t.test('UTF-16LE with BOM and CRLF, and UTF-8 with BOM', async (t) => {
  const text = MINI.replace(/\n/g, '\r\n');
  const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
  const a = parseInf('t.inf', le);
  t.equal(a.encoding, 'utf-16le');
  t.equal(a.services[0]?.instances[0]?.altitude, '370000');
  const u8 = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(MINI, 'utf8')]);
  t.equal(parseInf('t.inf', u8).encoding, 'utf-8');
  t.equal(parseInf('t.inf', Buffer.from([0x5b, 0x41, 0x5d, 0x0a, 0x6b, 0x3d, 0xe9, 0x0a])).encoding, 'windows-1252');
});

t.test('malformed INFs: InputError with file and line', async (t) => {
  const cases: Array<[string, string, number, RegExp]> = [
    ['header without ]', '[Version]\nClass=X\n[Broken\nA=1\n', 3, /without "\]"/],
    ['line outside any section', '; ok\n\nSignature="$Windows NT$"\n[Version]\n', 3, /outside any section/],
    ['AddService without a section', '[DefaultInstall.NTamd64.Services]\n\nAddService = svc,0x800\n', 3, /names no service-install section/],
    ['AddService naming a missing section', '[DefaultInstall.NTamd64.Services]\nAddService = svc,,Nope.Service\n', 2, /\[Nope\.Service\], which is not in the INF/],
    ['unterminated quote', '[Strings]\na = "ok"\nb = "not closed\n', 3, /unterminated quoted string/],
    ['undefined string key', '[Version]\n\nProvider = %Missing%\n', 3, /%Missing% is not defined/],
    ['bad altitude', MINI.replace('Alt = "370000"', 'Alt = "37x"'), 22, /Altitude "37x"/],
    ['bad DriverVer', '[Version]\nDriverVer = 2026-01-02,1.0\n', 2, /mm\/dd\/yyyy/],
    ['continuation at EOF', '[A]\nx = 1, \\', 2, /continuation/],
    ['text after header', '[A] junk\n', 1, /after section header/],
  ];
  for (const [name, text, line, re] of cases) {
    const e = errorOf(text);
    t.equal(e.place.file, 't.inf', `${name}: file`);
    t.equal(e.place.line, line, `${name}: line`);
    t.match(e.message, re, `${name}: message`);
  }
  const u16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('[Version]\r\n\r\n[Oops\r\n', 'utf16le')]);
  t.equal(errorOf(u16).place.line, 3, 'line numbers count in decoded UTF-16 text');
});

t.test('property: arbitrary text yields a ParsedInf or an InputError with a line, never anything else', async (t) => {
  const alphabet = fc.constantFrom('[', ']', '"', ';', ',', '=', '%', '\\', '\n', '\r\n', ' ', 'a', 'B', '1', 'Strings', 'AddService', 'DefaultInstall.NTamd64.Services', 'HKR', 'Parameters\\Instances\\');
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.array(alphabet, { maxLength: 60 }).map((a) => a.join(''))), (text) => {
      try {
        parseInf('p.inf', text);
      } catch (e) {
        if (!(e instanceof InputError)) return false;
        return typeof e.place.line === 'number' && e.place.line >= 1;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        parseInf('p.inf', bytes);
      } catch (e) {
        return e instanceof InputError;
      }
      return true;
    }),
    { numRuns: 500 },
  );
  t.pass('no non-InputError escaped');
});

// ---------------------------------------------------------------- hostile input (#16)

/** Calls of String.prototype.toLowerCase while `fn` runs: every section and key look-up lowers a name. */
function lowerings(fn: () => void): number {
  const original = String.prototype.toLowerCase;
  let n = 0;
  String.prototype.toLowerCase = function (this: string) {
    n++;
    return original.call(this);
  };
  try {
    fn();
  } finally {
    String.prototype.toLowerCase = original;
  }
  return n;
}

/** INFs of `n` sections in the three shapes that were quadratic (row 12 of #16). */
function manySections(n: number): Record<string, string> {
  const ids = Array.from({ length: n }, (_, i) => i);
  const head = '[Version]\nSignature = "$Windows NT$"\n';
  return {
    // Short names: 20,000 of each shape stay within INF_MAX_CHARS.
    'distinct sections': head + ids.map((i) => `[Section${i}]\nKey${i} = value${i}\n`).join(''),
    'services, each with its own section': `${head}[DefaultInstall.NTamd64.Services]\n${ids.map((i) => `AddService=s${i},,S${i}\n`).join('')}${ids.map((i) => `[S${i}]\nServiceType=2\n`).join('')}`,
    'file lists, each with its destination': `${head}[DefaultInstall.NTamd64]\n${ids.map((i) => `CopyFiles=F${i}\n`).join('')}[DestinationDirs]\n${ids.map((i) => `F${i}=12\n`).join('')}${ids.map((i) => `[F${i}]\nf${i}.sys\n`).join('')}`,
  };
}

t.test('row 12 (#16): look-ups by section and key are counted per line, not per pair of sections', async (t) => {
  // 2,000 sections made 8,000,000 lowerings before (a scan of every section for every header, of every
  // service for every service, of [DestinationDirs] for every CopyFiles target); a map makes it a few per line.
  for (const [shape, text] of Object.entries(manySections(2_000))) {
    const lines = text.split('\n').length;
    const n = lowerings(() => parseInf('many.inf', text));
    t.ok(n <= 20 * lines, `${shape}: ${n} lowerings for ${lines} lines`);
  }
});

t.test('row 12 (#16): 20,000 sections of each shape parse, whole', async (t) => {
  const [distinct, services, files] = Object.values(manySections(20_000)).map((text) => parseInf('many.inf', text));
  t.equal(distinct!.sections.size, 20_001);
  t.equal(distinct!.sections.get('section19999')?.entries[0]?.fields[0], 'value19999');
  t.equal(services!.services.length, 20_000);
  t.equal(services!.services[19_999]?.serviceType, 2);
  t.equal(files!.copyFiles.length, 20_000);
  t.same(files!.copyFiles[19_999]?.destination, { dirid: 12, subdir: null, path: '%SystemRoot%\\System32\\drivers' });
});

t.test('bounds (#16): an INF past INF_MAX_CHARS, a field past INF_MAX_STRING_CHARS, references past INF_MAX_REFERENCED_ENTRIES', async (t) => {
  const big = `[Version]\n${'; padding\n'.repeat(Math.ceil(INF_MAX_CHARS / 10) + 1)}`;
  t.match(errorOf(big), { place: { file: 't.inf' }, message: new RegExp(`more than INF_MAX_CHARS \\(${INF_MAX_CHARS.toLocaleString('en-US')}\\)`) });
  t.match(errorOf(new TextEncoder().encode(big)), { place: { file: 't.inf' }, message: /INF_MAX_CHARS/ }, 'bytes too');
  // %a% is 3 characters that may stand for a long string: the substituted field is what is bounded.
  const bomb = `[Strings]\na = "${'x'.repeat(1000)}"\n[S]\nk = ${'%a%'.repeat(5)}\n`;
  t.match(errorOf(bomb), { place: { file: 't.inf', line: 4 }, message: /longer than INF_MAX_STRING_CHARS \(4,096\)/ });
  t.equal(parseInf('t.inf', `[Strings]\na = "${'x'.repeat(1000)}"\n[S]\nk = ${'%a%'.repeat(4)}\n`).sections.get('s')?.entries[0]?.fields[0]?.length, 4000, 'up to the bound is fine');
  // Every service naming one long AddReg list: the work is services x entries, whatever the look-ups cost.
  const reg = Array.from({ length: 1_000 }, (_, i) => `HKR,"Parameters\\Instances\\I${i}","Altitude",0x00000000,"37${String(i).padStart(4, '0')}"\n`).join('');
  const svcs = Array.from({ length: 200 }, (_, i) => i);
  const shared = `[DefaultInstall.NTamd64.Services]\n${svcs.map((i) => `AddService = s${i},,S${i}\n`).join('')}${svcs.map((i) => `[S${i}]\nAddReg = Reg\n`).join('')}[Reg]\n${reg}`;
  const e = errorOf(shared);
  t.match(e.message, new RegExp(`more than INF_MAX_REFERENCED_ENTRIES \\(${INF_MAX_REFERENCED_ENTRIES.toLocaleString('en-US')}\\)`));
  t.equal(e.place.file, 't.inf');
  t.ok((e.place.line ?? 0) > 1, 'names the AddReg line that went past it');
});

t.test('trailing spaces and tabs are trimmed as before, without a backtracking pattern', async (t) => {
  const inf = parseInf('t.inf', `[S]\nk = a \t \t\nlong = ${' \t'.repeat(50_000)}x${' \t'.repeat(50_000)}\ncont = a \t\\ \t\n b\n`);
  const e = inf.sections.get('s')!.entries;
  t.same(e.map((x) => [x.key, x.fields]), [['k', ['a']], ['long', ['x']], ['cont', ['a \t b']]]);
});
