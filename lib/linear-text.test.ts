import t from 'tap';
import { stripEnd } from './linear-text.ts';

t.test('stripEnd removes the run at the end only, and is linear on long runs that do not end the text', async (t) => {
  t.equal(stripEnd('C:\\work\\\\', '\\'), 'C:\\work');
  t.equal(stripEnd('abc==', '='), 'abc');
  t.equal(stripEnd('abc', '='), 'abc');
  t.equal(stripEnd('====', '='), '');
  t.equal(stripEnd('', '='), '');
  t.equal(stripEnd('a=b', '='), 'a=b');
  // The input /=+$/ is quadratic on: a long run, then one other character.
  const hostile = `${'='.repeat(200_000)}x`;
  t.equal(stripEnd(hostile, '='), hostile);
});
