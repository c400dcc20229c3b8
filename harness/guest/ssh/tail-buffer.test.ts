import t from 'tap';
import { TailBuffer } from './tail-buffer.ts';

t.test('keeps everything under the limit', async (t) => {
  const b = new TailBuffer(10);
  b.push(Buffer.from('abc'));
  b.push(Buffer.from('def'));
  t.equal(b.bytes().toString(), 'abcdef');
  t.equal(b.droppedBytes, 0);
});

t.test('keeps exactly the last `limit` bytes and counts the rest', async (t) => {
  const b = new TailBuffer(5);
  for (const s of ['0123', '4567', '89']) b.push(Buffer.from(s));
  t.equal(b.bytes().toString(), '56789');
  t.equal(b.droppedBytes, 5);
  const big = new TailBuffer(3);
  big.push(Buffer.from('abcdefgh'));
  t.equal(big.bytes().toString(), 'fgh');
  t.equal(big.droppedBytes, 5);
});
