// QMP sends unsigned 64-bit values as bare JSON numbers (a Hyper-V bugcheck parameter such as
// 18446744071562067968). JSON.parse turns them into doubles and silently rounds them, and Node 20
// has no reviver access to the source text, so this is a small JSON parser of its own: integers
// outside the safe range come back as bigint, everything else exactly as JSON.parse gives it.

export type LosslessJson =
  | null
  | boolean
  | number
  | bigint
  | string
  | LosslessJson[]
  | { [key: string]: LosslessJson };

export class JsonSyntaxError extends Error {
  readonly offset: number;
  constructor(detail: string, offset: number) {
    super(`${detail} at offset ${offset}`);
    this.name = 'JsonSyntaxError';
    this.offset = offset;
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const WS = /[ \t\n\r]*/y;

export function parseJsonLossless(text: string): LosslessJson {
  let pos = 0;

  const skipWs = (): void => {
    WS.lastIndex = pos;
    WS.exec(text);
    pos = WS.lastIndex;
  };

  const fail = (expected: string): never => {
    const found = pos < text.length ? JSON.stringify(text[pos]) : 'end of input';
    throw new JsonSyntaxError(`expected ${expected}, found ${found}`, pos);
  };

  const parseString = (): string => {
    // Find the closing quote, honouring escapes, then let JSON.parse decode the escapes.
    const start = pos;
    pos++;
    while (pos < text.length) {
      const ch = text.charCodeAt(pos);
      if (ch === 0x22) {
        pos++;
        return JSON.parse(text.slice(start, pos)) as string;
      }
      pos += ch === 0x5c ? 2 : 1;
    }
    pos = start;
    return fail('a closed string');
  };

  const parseNumber = (): number | bigint => {
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (!m) return fail('a value');
    const literal = m[0];
    pos = NUMBER.lastIndex;
    const value = Number(literal);
    if (m[1] === undefined && m[2] === undefined && !Number.isSafeInteger(value)) return BigInt(literal);
    return value;
  };

  const parseValue = (): LosslessJson => {
    skipWs();
    const ch = text[pos];
    if (ch === '{') {
      pos++;
      const obj: { [key: string]: LosslessJson } = {};
      skipWs();
      if (text[pos] === '}') {
        pos++;
        return obj;
      }
      for (;;) {
        skipWs();
        if (text[pos] !== '"') fail('an object key');
        const key = parseString();
        skipWs();
        if (text[pos] !== ':') fail("':'");
        pos++;
        // Like JSON.parse, `__proto__` is an ordinary own key, never the object's prototype.
        Object.defineProperty(obj, key, { value: parseValue(), enumerable: true, writable: true, configurable: true });
        skipWs();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === '}') {
          pos++;
          return obj;
        }
        fail("',' or '}'");
      }
    }
    if (ch === '[') {
      pos++;
      const arr: LosslessJson[] = [];
      skipWs();
      if (text[pos] === ']') {
        pos++;
        return arr;
      }
      for (;;) {
        arr.push(parseValue());
        skipWs();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === ']') {
          pos++;
          return arr;
        }
        fail("',' or ']'");
      }
    }
    if (ch === '"') return parseString();
    if (text.startsWith('true', pos)) {
      pos += 4;
      return true;
    }
    if (text.startsWith('false', pos)) {
      pos += 5;
      return false;
    }
    if (text.startsWith('null', pos)) {
      pos += 4;
      return null;
    }
    return parseNumber();
  };

  const value = parseValue();
  skipWs();
  if (pos !== text.length) fail('end of input');
  return value;
}

/** An integer QMP sent, as a bigint whatever size it had (number, bigint or decimal string). */
export function toBigInt(value: LosslessJson | undefined): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^\d+$/.test(value)) return BigInt(value);
  return undefined;
}

/** Hex the way bugcheck codes and parameters are written (`0x` + lowercase, no padding). */
export function toHex(value: bigint): string {
  return `0x${value.toString(16)}`;
}
