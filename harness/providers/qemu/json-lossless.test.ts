import fc from 'fast-check';
import t from 'tap';
import { parseJsonLossless, toBigInt, toHex } from './json-lossless.ts';

t.test('a Hyper-V GUEST_PANICKED payload keeps every 64-bit argument exactly', async (t) => {
  const line =
    '{"timestamp": {"seconds": 1700000000, "microseconds": 5}, "event": "GUEST_PANICKED", "data": {"action": "run", ' +
    '"info": {"type": "hyper-v", "arg1": 209, "arg2": 18446715525607182416, "arg3": 2, "arg4": 0, "arg5": 18446735283370463952}}}';
  const naive = JSON.parse(line) as { data: { info: { arg2: number } } };
  t.not(BigInt(naive.data.info.arg2), 18446715525607182416n, 'JSON.parse really does round it');
  const v = parseJsonLossless(line) as { data: { info: Record<string, unknown> } };
  t.equal(v.data.info.arg2, 18446715525607182416n);
  t.equal(v.data.info.arg5, 18446735283370463952n);
  t.equal(v.data.info.arg1, 209, 'small integers stay numbers');
  t.equal(toHex(toBigInt(v.data.info.arg2 as bigint)!), '0xffffe609207fd050');
  t.equal(toHex(toBigInt(v.data.info.arg5 as bigint)!), '0xfffff80156f612d0');
});

t.test('the brief\'s example value 18446744071562067968 is 0xffffffff80000000', async (t) => {
  const v = parseJsonLossless('{"arg2": 18446744071562067968}') as { arg2: bigint };
  t.equal(toHex(v.arg2), '0xffffffff80000000');
});

/** What JSON.parse would have made of it: bigints back to (rounded) doubles. */
function rounded(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(rounded);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rounded(x)]));
  return v;
}

t.test('agrees with JSON.parse on any JSON, except that unsafe integer literals are exact bigints', async (t) => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      const text = JSON.stringify(value);
      const parsed = parseJsonLossless(text);
      return JSON.stringify(rounded(parsed)) === JSON.stringify(JSON.parse(text));
    }),
    { numRuns: 500 },
  );
  t.pass('500 random documents');
});

t.test('any unsigned 64-bit integer survives, inside strings with escapes too', async (t) => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.string(), (n, s) => {
      const v = parseJsonLossless(`{"s": ${JSON.stringify(s)}, "n": ${n}, "neg": -${n}}`) as Record<string, unknown>;
      const back = (x: unknown): bigint => toBigInt(x as bigint)!;
      return v.s === s && back(v.n) === n && back(v.neg) === -n;
    }),
    { numRuns: 500 },
  );
});

t.test('a "__proto__" key is data, as with JSON.parse', async (t) => {
  const v = parseJsonLossless('{"__proto__": {"polluted": 1}}') as Record<string, unknown>;
  t.equal(Object.getPrototypeOf(v), Object.prototype);
  t.same(Object.keys(v), ['__proto__']);
  t.equal(({} as Record<string, unknown>).polluted, undefined);
});

t.test('floats and exponents stay numbers; syntax errors name the offset', async (t) => {
  t.same(parseJsonLossless('[1.5, 1e300, -0, 12345678901234567890.0]'), [1.5, 1e300, -0, 12345678901234567890.0]);
  t.throws(() => parseJsonLossless('{"a": 1,}'), { name: 'JsonSyntaxError', offset: 8 });
  t.throws(() => parseJsonLossless('{"a": 1} x'), /expected end of input, found "x" at offset 9/);
  t.throws(() => parseJsonLossless('"abc'), /closed string/);
});
