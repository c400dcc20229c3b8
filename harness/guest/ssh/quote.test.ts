import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import t from 'tap';
import { posixCommand, quotePosix } from './quote.ts';

/** What a real POSIX shell makes of the quoted word. */
function throughSh(word: string): string {
  return execFileSync('/bin/sh', ['-c', `printf %s ${word}`], { encoding: 'utf8' });
}

t.test('any string survives a real shell unchanged', async (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0')), (s) => {
      t.equal(throughSh(quotePosix(s)), s);
    }),
    { numRuns: 60 },
  );
});

t.test('known hard cases', async (t) => {
  for (const s of ["it's", "'", "''", '$(id)', '`id`', '$HOME', '-n', '*', 'a b', '\n', '', '\\', '"']) {
    t.equal(throughSh(quotePosix(s)), s, JSON.stringify(s));
  }
  t.equal(quotePosix('/var/tmp/a.bin'), '/var/tmp/a.bin', 'plain words stay readable');
  t.equal(quotePosix("it's"), `'it'\\''s'`);
  t.equal(quotePosix(''), "''", 'an empty argument is still an argument');
  t.equal(posixCommand(['sha256sum', '--', 'a b']), "sha256sum -- 'a b'");
  t.throws(() => quotePosix('a\0b'), TypeError);
});
