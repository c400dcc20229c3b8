// INF parser: syntax, substitution, encodings, the minifilter facts, and InputError with file and line
// for every malformed input.
import t from 'tap';
import fc from 'fast-check';
import { InputError } from '../../lib/errors.ts';
import { parseInf } from './inf.ts';

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
