// QMP events turned into provider events. Only events the cell monitor can act on are kept; the
// rest (RTC_CHANGE, NIC_RX_FILTER_CHANGED...) are noise for it.
import { type LosslessJson, toBigInt, toHex } from './json-lossless.ts';
import { isObject, type QmpEvent } from './qmp.ts';
import type { PanicInfo, ProviderEvent } from '../types.ts';

const str = (v: LosslessJson | undefined, fallback = ''): string => (typeof v === 'string' ? v : fallback);

/** Hyper-V's crash MSRs: arg1 is the bugcheck code, arg2..arg5 its four parameters. */
export function panicInfo(info: LosslessJson | undefined, crashDevice: 'pvpanic' | 'hv-crash'): PanicInfo | undefined {
  if (!isObject(info)) return crashDevice === 'pvpanic' ? { kind: 'pvpanic' } : undefined;
  if (info.type === 'hyper-v') {
    const args = ['arg1', 'arg2', 'arg3', 'arg4', 'arg5'].map((k) => toBigInt(info[k]) ?? 0n);
    const [code = 0n, ...params] = args;
    return { kind: 'hyper-v', code: toHex(code), params: params.map(toHex) };
  }
  return { kind: info.type === 's390' ? 's390' : 'other', raw: jsonSafe(info) };
}

export function toProviderEvent(e: QmpEvent, crashDevice: 'pvpanic' | 'hv-crash'): ProviderEvent | null {
  const at = e.at.toISOString();
  const d = e.data;
  switch (e.event) {
    case 'GUEST_PANICKED':
    case 'GUEST_CRASHLOADED': {
      const info = panicInfo(d.info, crashDevice);
      const type = e.event === 'GUEST_PANICKED' ? 'panicked' : 'crashloaded';
      return info ? { type, at, action: str(d.action, 'unknown'), info } : { type, at, action: str(d.action, 'unknown') };
    }
    case 'RESET':
      return { type: 'reset', at, guest: d.guest === true, reason: str(d.reason, 'unknown') };
    case 'SHUTDOWN':
      return { type: 'shutdown', at, guest: d.guest === true, reason: str(d.reason, 'unknown') };
    case 'STOP':
      return { type: 'stop', at };
    case 'RESUME':
      return { type: 'resume', at };
    default:
      return null;
  }
}

/** bigint does not survive JSON.stringify: keep exact values as decimal strings. */
function jsonSafe(v: LosslessJson): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x)]));
  return v;
}
