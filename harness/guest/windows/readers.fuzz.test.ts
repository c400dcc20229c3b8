// Fuzz test of the Windows guest-result readers (issue #16): identity text (systeminfo,
// Get-ComputerInfo, registry listings; seeded from shared/samples/os), a script's CLIXML stderr and its
// result line. Fixed seed, bounded sizes: each reader answers or refuses with its own error, never
// anything else, never a hang.
import t from 'tap';
import fc from 'fast-check';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../../lib/errors.ts';
import { mutatedText } from '../../../lib/testdata/mutate.ts';
import { parseResult, readableStderr, RESULT_MARKER, WindowsScriptFailed, WindowsScriptNoResult } from './encode.ts';
import { readFilterDelays } from './filter-delays.ts';
import { parseIdentityText } from './identity-text.ts';

const dir = fileURLToPath(new URL('../../../../shared/samples/os/', import.meta.url));
const osSeeds = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.txt')).sort().map((f) => readFileSync(dir + f, 'utf8')) : [];

t.test('identity text: mutated real samples read or are refused with the file and a line in it', { skip: osSeeds.length ? false : 'no shared samples' }, async (t) => {
  let read = 0;
  let refused = 0;
  fc.assert(
    fc.property(mutatedText(osSeeds), (text) => {
      try {
        const id = parseIdentityText(text, 'fuzz.txt');
        if (id.build !== null && !Number.isInteger(id.build)) throw new Error(`build ${id.build}`);
        read++;
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        const lines = text.split(/\r\n|\n|\r/).length;
        if (e.place.line !== undefined && (e.place.line < 1 || e.place.line > lines + 1)) throw new Error(`line ${e.place.line} of ${lines}`);
        refused++;
      }
    }),
    { seed: 1616, numRuns: 1500 },
  );
  t.ok(read > 0 && refused > 0, `${read} read, ${refused} refused`);
});

const CLIXML = '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><S S="Error">x : The term \'x\' is not recognized_x000D__x000A_</S><S S="Warning">careful &amp; slow</S></Objs>';
const RESULT = `noise\r\n${RESULT_MARKER}{"script":"get_identity","ok":true,"result":{"build":26100}}\r\n`;

t.test('script stderr and result line: mutated, they read or give the script errors, nothing else', async (t) => {
  let results = 0;
  fc.assert(
    fc.property(mutatedText([CLIXML, RESULT]), (text) => {
      if (typeof readableStderr(text) !== 'string') throw new Error('readableStderr gave no text');
      try {
        parseResult(text, 'get_identity');
        results++;
      } catch (e) {
        if (!(e instanceof WindowsScriptFailed || e instanceof WindowsScriptNoResult || e instanceof InputError)) throw e;
      }
    }),
    { seed: 1616, numRuns: 1500 },
  );
  t.ok(results > 0, `${results} results read`);
});

t.test('filter-delay exports (UNVERIFIED format, seeded by exports in the shape filter-delays.ts reads): mutated ones read or are refused with the file, never anything else', async (t) => {
  const seeds = [
    'Mini-Filter Driver,Major Function,Duration (µs)\r\nfgfilter.sys,IRP_MJ_CREATE,12.5\r\nWdFilter.sys,IRP_MJ_CLEANUP,0.75\r\n',
    '\ufeff"Minifilter","Major Function Name","Count","Total Delay (ms)"\n"FGFILTER.SYS","IRP_MJ_CREATE","1,200","3.5"\n',
  ];
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-fuzz-delays-'));
  let read = 0;
  let refused = 0;
  let n = 0;
  await fc.assert(
    fc.asyncProperty(mutatedText(seeds), async (text) => {
      const file = path.join(dir, `e${n++}.csv`);
      writeFileSync(file, text);
      try {
        const d = await readFilterDelays(file);
        if (!d.delays.every((r) => Number.isFinite(r.totalUs) && r.count >= 0)) throw new Error('a row that is no number');
        read++;
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        if (e.place.file !== file) throw new Error(`names ${e.place.file}`);
        refused++;
      }
    }),
    { seed: 1717, numRuns: 400 },
  );
  t.ok(read > 0 && refused > 0, `${read} read, ${refused} refused`);
});
