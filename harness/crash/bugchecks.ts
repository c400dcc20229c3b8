// Windows bugcheck (stop code) table: code → name and what each of the four parameters means, for the
// bugchecks a file-system minifilter causes (reference windows.md §6) and those in the kd samples.
// Parameter meanings follow Microsoft's "Bug Check 0x.." pages; where a parameter depends on a subcode
// the text says so rather than guessing.
//
// Two parameters matter to triage beyond display:
// - `subcodeParam`: the parameter that says which kind of violation this is (0xC4's parameter 1, 0xC1's
//   parameter 4...). Crash buckets include it: a 0xC4/0x62 leak and a 0xC4/0x13 double free are
//   different bugs.
// - `addressParam`: the parameter holding the faulting code address, so a dump's driver list can name
//   the module even when the dump has no broken-driver record.

export type ParamIndex = 1 | 2 | 3 | 4;

export interface BugcheckInfo {
  code: number;
  name: string;
  /** Meaning of parameters 1..4 (empty when Microsoft documents none). */
  params: readonly [string, string, string, string];
  subcodeParam?: ParamIndex;
  addressParam?: ParamIndex;
}

const R = 'reserved';
const DEP = 'depends on parameter 1';

// keep-sorted by code
const TABLE: BugcheckInfo[] = [
  { code: 0x0a, name: 'IRQL_NOT_LESS_OR_EQUAL', params: ['memory referenced', 'IRQL at the time of the reference', 'bit field: bit 0 write, bit 3 execute', 'address of the instruction that referenced memory'], addressParam: 4 },
  { code: 0x19, name: 'BAD_POOL_HEADER', params: ['type of violation', DEP, DEP, DEP], subcodeParam: 1 },
  { code: 0x1a, name: 'MEMORY_MANAGEMENT', params: ['type of violation', DEP, DEP, DEP], subcodeParam: 1 },
  { code: 0x1e, name: 'KMODE_EXCEPTION_NOT_HANDLED', params: ['exception code', 'address of the exception', 'exception parameter 0', 'exception parameter 1'], addressParam: 2 },
  { code: 0x20, name: 'KERNEL_APC_PENDING_DURING_EXIT', params: ['address of the APC found pending during exit', "the thread's APC disable count", 'current IRQL', R] },
  { code: 0x39, name: 'SYSTEM_EXIT_OWNED_MUTEX', params: ['address of the system service that exited with a mutex owned', 'address of the mutex', 'address of the owning thread', R] },
  { code: 0x3b, name: 'SYSTEM_SERVICE_EXCEPTION', params: ['exception code', 'address of the instruction that caused the exception', 'address of the context record', R], addressParam: 2 },
  { code: 0x50, name: 'PAGE_FAULT_IN_NONPAGED_AREA', params: ['memory referenced', 'access: 0 read, 2 write, 10 execute (before 1507: 0 read, 1 write)', 'address of the instruction that referenced memory, if known', 'type of page fault'], addressParam: 3 },
  { code: 0x7e, name: 'SYSTEM_THREAD_EXCEPTION_NOT_HANDLED', params: ['exception code', 'address of the exception', 'address of the exception record', 'address of the context record'], addressParam: 2 },
  { code: 0x80, name: 'NMI_HARDWARE_FAILURE', params: ['vendor-specific', 'vendor-specific', 'vendor-specific', 'vendor-specific'] },
  { code: 0x8e, name: 'KERNEL_MODE_EXCEPTION_NOT_HANDLED', params: ['exception code', 'address of the exception', 'address of the trap frame', R], addressParam: 2 },
  { code: 0x9f, name: 'DRIVER_POWER_STATE_FAILURE', params: ['type of violation', DEP, DEP, DEP], subcodeParam: 1 },
  { code: 0xc1, name: 'SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION', params: ['address the driver tried to free', R, R, 'type of violation'], subcodeParam: 4 },
  { code: 0xc2, name: 'BAD_POOL_CALLER', params: ['type of violation', DEP, DEP, DEP], subcodeParam: 1 },
  { code: 0xc4, name: 'DRIVER_VERIFIER_DETECTED_VIOLATION', params: ['type of violation (see the 0xC4 subcodes)', DEP, DEP, DEP], subcodeParam: 1 },
  { code: 0xc9, name: 'DRIVER_VERIFIER_IOMANAGER_VIOLATION', params: ['type of violation', DEP, DEP, DEP], subcodeParam: 1 },
  { code: 0xd1, name: 'DRIVER_IRQL_NOT_LESS_OR_EQUAL', params: ['memory referenced', 'IRQL at the time of the reference', 'access: 0 read, 1 write, 8 execute', 'address of the instruction that referenced memory'], addressParam: 4 },
  { code: 0xe3, name: 'RESOURCE_NOT_OWNED', params: ['address of the resource', 'address of the thread', 'address of the owner table, if any', R] },
  { code: 0xea, name: 'THREAD_STUCK_IN_DEVICE_DRIVER', params: ['pointer to the stuck thread object', 'pointer to the DEFERRED_WATCHDOG object', "pointer to the offending driver's name", 'number of times the bugcheck was intercepted'] },
  { code: 0xef, name: 'CRITICAL_PROCESS_DIED', params: ['the process object', 'whether a thread (1) or a process (0) died', R, R] },
  { code: 0xf5, name: 'FLTMGR_FILE_SYSTEM', params: ['type of violation', DEP, DEP, DEP], subcodeParam: 1 },
  { code: 0x133, name: 'DPC_WATCHDOG_VIOLATION', params: ['0: one DPC ran too long; 1: the system spent too long at DISPATCH_LEVEL or above', DEP, DEP, R], subcodeParam: 1 },
  { code: 0x139, name: 'KERNEL_SECURITY_CHECK_FAILURE', params: ['type of corruption (fail-fast code)', 'address of the trap frame', 'address of the exception record', R], subcodeParam: 1 },
  { code: 0x13a, name: 'KERNEL_MODE_HEAP_CORRUPTION', params: ['type of corruption', 'address of the heap that reported the corruption', 'address at which the corruption was detected', R], subcodeParam: 1 },
];

const BY_CODE = new Map(TABLE.map((b) => [b.code, b]));

/** Every code in the table (tests and docs). */
export const KNOWN_BUGCHECKS: readonly BugcheckInfo[] = TABLE;

// The kernel raises 0x1000000A, 0x1000001E, 0x10000050, 0x1000007E, 0x1000008E... ("_M" variants) when
// a bugcheck is raised through a different entry point; same meaning, same parameters as the base code.
const M_FLAG = 0x10000000;

export interface BugcheckLookup extends BugcheckInfo {
  /** The code as given (0x1000007E for an _M variant). */
  code: number;
  /** The code without the _M flag (0x7E): what buckets use, so both spellings join. */
  baseCode: number;
  variantM: boolean;
}

/** The table entry for a code, _M variants included (name gets the `_M` suffix); undefined if unknown. */
export function lookupBugcheck(code: number): BugcheckLookup | undefined {
  const direct = BY_CODE.get(code);
  if (direct) return { ...direct, baseCode: code, variantM: false };
  if ((code & 0xf0000000) >>> 0 === M_FLAG) {
    const base = BY_CODE.get(code & 0x0fffffff);
    if (base) return { ...base, code, name: `${base.name}_M`, baseCode: base.code, variantM: true };
  }
  return undefined;
}

/** The code without an _M flag, when the base code is known; the code itself otherwise. */
export function baseBugcheckCode(code: number): number {
  return lookupBugcheck(code)?.baseCode ?? code;
}

/** `0xC4`, `0x1000007E`: the way Microsoft writes a stop code. */
export function formatBugcheckCode(code: number): string {
  return `0x${(code >>> 0).toString(16).toUpperCase()}`;
}

export function bugcheckName(code: number): string {
  return lookupBugcheck(code)?.name ?? `UNKNOWN_BUGCHECK_${formatBugcheckCode(code)}`;
}

/** Parses `0x...` or bare hex into a BigInt; undefined when it is not hex. */
export function parseHex(text: string): bigint | undefined {
  const m = /^\s*(?:0x)?([0-9a-f]+)\s*$/i.exec(text.replace(/`/g, ''));
  return m ? BigInt(`0x${m[1]}`) : undefined;
}

/** The subcode of a bugcheck (the parameter that says which violation), as `0x..`; undefined if none. */
export function bugcheckSubcode(code: number, params: readonly string[]): string | undefined {
  const info = lookupBugcheck(code);
  if (!info?.subcodeParam) return undefined;
  const raw = params[info.subcodeParam - 1];
  if (raw === undefined) return undefined;
  const v = parseHex(raw);
  return v === undefined ? undefined : `0x${v.toString(16)}`;
}

// 0xC4 parameter 1 (reference windows.md §6, selection). Ranges are checked after exact codes.
const C4_EXACT = new Map<number, string>([
  [0x00, 'zero-byte allocation'],
  [0x01, 'allocation at too high IRQL (paged pool)'],
  [0x02, 'allocation at too high IRQL (nonpaged pool)'],
  [0x10, 'free of an address that was never allocated'],
  [0x13, 'double free'],
  [0x14, 'double free'],
  [0x3b, 'wait at IRQL >= DISPATCH_LEVEL'],
  [0x3f, 'reference of an object whose reference count is 0'],
  [0x60, 'driver unloaded with outstanding allocations (leak)'],
  [0x61, 'allocation while the driver is unloading'],
  [0x62, 'driver unloaded with outstanding allocations (leak; parameter 2 is the driver name)'],
  [0xf6, 'kernel handle referenced from a user process'],
]);

export interface VerifierSubcode {
  subcode: number;
  description: string;
}

/** What a 0xC4 parameter 1 means; undefined for values outside the documented selection. */
export function verifierSubcode(p1: string | bigint | number): VerifierSubcode | undefined {
  const v = typeof p1 === 'string' ? parseHex(p1) : BigInt(p1);
  if (v === undefined || v > 0xffffffffn) return undefined;
  const n = Number(v);
  const exact = C4_EXACT.get(n);
  if (exact) return { subcode: n, description: exact };
  if (n >= 0x1000 && n <= 0x100b) return { subcode: n, description: 'deadlock detection' };
  if (n >= 0x2000 && n <= 0x2005) return { subcode: n, description: 'code integrity' };
  if ((n & 0xffff0000) >>> 0 === 0x00020000 || (n & 0xffff0000) >>> 0 === 0x00040000) {
    return { subcode: n, description: `DDI compliance rule 0x${n.toString(16)} violated` };
  }
  return undefined;
}

/** One line per parameter: value and meaning, with the 0xC4 subcode spelled out. */
export function describeParams(code: number, params: readonly string[]): string[] {
  const info = lookupBugcheck(code);
  return params.map((p, i) => {
    let meaning = info?.params[i] ?? '';
    if (info?.baseCode === 0xc4 && i === 0) meaning = verifierSubcode(p)?.description ?? 'undocumented 0xC4 subcode';
    return meaning ? `${p} (${meaning})` : p;
  });
}

/**
 * Stop codes Driver Verifier raises: 0xC4 DRIVER_VERIFIER_DETECTED_VIOLATION (with its subcodes), 0xC1
 * SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, 0xC6 DRIVER_CAUGHT_MODIFYING_FREED_POOL, 0xC7
 * TIMER_OR_DPC_INVALID, 0xC9 DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0xD5 DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL,
 * 0xD6 DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION, 0xE6 DRIVER_VERIFIER_DMA_VIOLATION; and 0x1C4, the live
 * dump it writes under %SystemRoot%\LiveKernelReports without stopping the system.
 */
export const VERIFIER_STOP_CODES: ReadonlySet<number> = new Set([0xc4, 0xc1, 0xc6, 0xc7, 0xc9, 0xd5, 0xd6, 0xe6, 0x1c4]);

export function isVerifierStopCode(code: number): boolean {
  return VERIFIER_STOP_CODES.has(baseBugcheckCode(code >>> 0) & ~0x10000000);
}
