// Driver Verifier profiles a matrix may use, and the verifier.exe command lines each produces per
// Windows release (windows.md §2). Pure: no process is run here; driver/verifier/run.ts sends the
// commands through the PowerShell runner.
import { UsageError } from '../../lib/errors.ts';

export const VERIFIER_PROFILES = {
  none: 'Driver Verifier off',
  standard: 'verifier /standard on our driver (flags 0x209BB plus WDF checks)',
  filter: 'Filter Verifier: /ruleclasses 5 37 on Windows 11, /flags 0x10 on Windows 10',
  lowres: 'low resources simulation: /faults with probability, pool tags and delay',
  ddi: 'DDI compliance checking (/flags 0x20000)',
  full: 'every check that applies to a minifilter, standard plus I/O and DDI',
} as const satisfies Record<string, string>;

export type VerifierProfileName = keyof typeof VERIFIER_PROFILES;
export const VERIFIER_PROFILE_NAMES = Object.keys(VERIFIER_PROFILES) as VerifierProfileName[];

/** Flag bits and their meaning (windows.md §2). */
export const VERIFIER_FLAGS: Readonly<Record<number, string>> = {
  0x1: 'special pool',
  0x2: 'force IRQL checking',
  0x4: 'randomized low resources simulation',
  0x8: 'pool tracking',
  0x10: 'I/O verification',
  0x20: 'deadlock detection',
  0x40: 'enhanced I/O verification',
  0x80: 'DMA checking',
  0x100: 'security checks',
  0x200: 'force pending I/O requests',
  0x400: 'IRP logging',
  0x800: 'miscellaneous checks',
  0x2000: 'invariant MDL checking for stack',
  0x4000: 'invariant MDL checking for driver',
  0x10000: 'port/miniport interface checking',
  0x20000: 'DDI compliance checking',
  0x2000000: 'code integrity checks',
};

export function flagName(bit: number): string {
  return VERIFIER_FLAGS[bit] ?? `flag 0x${bit.toString(16)}`;
}
export function hex8(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}
export function bitsOf(flags: number): number[] {
  const out: number[] = [];
  for (let b = 1; b !== 0 && b <= flags; b = (b << 1) >>> 0) if ((flags & b) !== 0) out.push(b);
  return out;
}

/** `verifier /standard` = these flags plus WDF checks (windows.md §2). */
export const STANDARD_FLAGS = 0x209bb;

/**
 * The `full` profile: standard (special pool, IRQL, pool tracking, I/O verification, deadlock, DMA,
 * security, miscellaneous, DDI compliance) plus what a file-system filter exercises:
 *   0x200 force pending I/O: the filter's own I/O (FltReadFile & co.) must cope with STATUS_PENDING;
 *   0x2000, 0x4000 invariant MDL checks: filters pass and build MDLs for paging and cached I/O;
 *   0x2000000 code integrity: the driver must run under HVCI, the default on Windows 11.
 * Left out: 0x4 (low resources: its own profile, and it makes every other result noisy), 0x40 enhanced
 * I/O (aimed at IRP-based drivers, known to slow boot badly; unverified for minifilters), 0x400 IRP
 * logging (diagnostics, no checks), 0x10000 port/miniport (not a port driver).
 */
export const FULL_FLAGS = STANDARD_FLAGS | 0x200 | 0x2000 | 0x4000 | 0x2000000;

export type BootMode = 'persistent' | 'disableafterfail' | 'oneboot' | 'resetonunusualshutdown';
export const BOOT_MODES: readonly BootMode[] = ['persistent', 'disableafterfail', 'oneboot', 'resetonunusualshutdown'];

/** verifier.exe exit codes (windows.md §2): 2 after enabling is normal, not a failure. */
export const VERIFIER_EXIT = { ok: 0, error: 1, rebootRequired: 2 } as const;

export interface WindowsRelease {
  build: number;
  family: 'client' | 'server';
}

/** Human name of a release from its build number (windows.md §7: Windows 11 = build >= 22000). */
export function releaseName(r: WindowsRelease): string {
  if (r.family === 'client') return r.build >= 22000 ? `Windows 11 (build ${r.build})` : `Windows 10 (build ${r.build})`;
  const servers: Record<number, string> = { 17763: 'Windows Server 2019', 20348: 'Windows Server 2022', 26100: 'Windows Server 2025' };
  return `${servers[r.build] ?? 'Windows Server'} (build ${r.build})`;
}

/**
 * Whether `/ruleclasses` (and Filter Verifier rule class 37) is used. windows.md §2 says "Windows 11";
 * we decide by build (>= 22000) so Server 2025 (26100, the Windows 11 24H2 code base) gets it and
 * Server 2019/2022 get the Windows 10 form. That mapping for servers is our inference (unverified).
 */
export function usesRuleClasses(r: WindowsRelease): boolean {
  return r.build >= 22000;
}

export interface LowResourcesOptions {
  /** Out of 10,000; default 600 (windows.md §2). */
  probability?: number;
  poolTags?: string[];
  applications?: string[];
  /** Minutes after boot before faults start; default 7 (windows.md §2). */
  delayMinutes?: number;
}

export interface VerifierOptions {
  /** Our driver, e.g. `fgfilter.sys`. */
  driver: string;
  /** Other modules to verify with it (e.g. `ntoskrnl.exe`). */
  alsoVerify?: string[];
  bootMode?: BootMode;
  lowResources?: LowResourcesOptions;
  /** For `none`: send `verifier /reset` (needs a reboot). Default false: a fresh image has nothing set. */
  reset?: boolean;
}

export interface VerifierPlan {
  profile: VerifierProfileName;
  release: WindowsRelease;
  releaseName: string;
  /** verifier.exe argument lists, run in order (without `verifier` itself). */
  commands: string[][];
  /** The same for people: `verifier /standard /driver fgfilter.sys`. */
  commandLines: string[];
  /** Flag bits /querysettings must show enabled afterwards. */
  expectedFlags: number;
  /** Rule classes asked for (Windows 11 /ruleclasses); /querysettings may not show them (unverified). */
  expectedRuleClasses: number[];
  /** Modules that must be listed as verified; empty for `none`. */
  drivers: string[];
  bootMode: BootMode | null;
  lowResources: Required<LowResourcesOptions> | null;
  /** True when the commands change settings (verifier answers 2: reboot required). */
  needsReboot: boolean;
  notes: string[];
}

const MODULE = /^[A-Za-z0-9_.-]+\.(?:sys|exe|dll)$/i;
const POOL_TAG = /^[\x21-\x7e]{1,4}$/;
const APPLICATION = /^[A-Za-z0-9_.-]+\.exe$/i;

export function quoteArg(a: string): string {
  return a === '' || /[\s"]/.test(a) ? `"${a.replace(/"/g, '\\"')}"` : a;
}

/** The commands and expectations of `profile` on `release` for `opts.driver`. */
export function verifierPlan(profile: VerifierProfileName, release: WindowsRelease, opts: VerifierOptions): VerifierPlan {
  if (!(profile in VERIFIER_PROFILES)) throw new UsageError(`unknown verifier profile "${String(profile)}" (known: ${VERIFIER_PROFILE_NAMES.join(', ')})`);
  if (!Number.isInteger(release.build) || release.build < 10240) throw new UsageError(`build ${release.build} is not a Windows 10/11/Server build number`);
  const drivers = [opts.driver, ...(opts.alsoVerify ?? [])];
  for (const d of drivers) if (!MODULE.test(d)) throw new UsageError(`"${d}" is not a module file name (expected e.g. fgfilter.sys)`);
  const notes: string[] = [];
  if (release.build < 25126) {
    if (drivers.some((d) => d.toLowerCase() === 'ntoskrnl.exe') && profile !== 'none') {
      throw new UsageError(`${releaseName(release)}: before build 25126 do not verify ntoskrnl.exe together with the filter (windows.md §2)`);
    }
    notes.push('before build 25126, ntoskrnl.exe must not be verified together with the filter (windows.md §2)');
  }
  const ruleClasses = usesRuleClasses(release);
  let commands: string[][] = [];
  let expectedFlags = 0;
  let expectedRuleClasses: number[] = [];
  let lowResources: Required<LowResourcesOptions> | null = null;
  const driverArgs = ['/driver', ...drivers];
  switch (profile) {
    case 'none':
      commands = opts.reset ? [['/reset']] : [];
      break;
    case 'standard':
      commands = [['/standard', ...driverArgs]];
      expectedFlags = STANDARD_FLAGS;
      notes.push('/standard also turns on WDF checks, which have no flag bit');
      break;
    case 'filter':
      if (ruleClasses) {
        commands = [['/ruleclasses', '5', '37', ...driverArgs]];
        // Rule class 5 is I/O verification (flag 0x10) and 37 file system filter verification: that
        // mapping of class 5 to 0x10 is our reading (unverified); 37 has no flag bit.
        expectedFlags = 0x10;
        expectedRuleClasses = [5, 37];
        notes.push('Windows 11 minimal Filter Verifier set /ruleclasses 5 37 (windows.md §2); rule class 37 cannot be confirmed from /querysettings flags (unverified output format)');
      } else {
        commands = [['/flags', '0x10', ...driverArgs]];
        expectedFlags = 0x10;
        notes.push('before Windows 11, Filter Verifier is part of I/O verification: /flags 0x10 (windows.md §2)');
      }
      break;
    case 'lowres': {
      const lr = opts.lowResources ?? {};
      lowResources = {
        probability: lr.probability ?? 600,
        poolTags: lr.poolTags ?? [],
        applications: lr.applications ?? [],
        delayMinutes: lr.delayMinutes ?? 7,
      };
      if (!Number.isInteger(lowResources.probability) || lowResources.probability < 1 || lowResources.probability > 10000) {
        throw new UsageError(`low resources probability ${lowResources.probability} must be a whole number 1-10000 (out of 10,000)`);
      }
      if (!Number.isInteger(lowResources.delayMinutes) || lowResources.delayMinutes < 0) throw new UsageError(`low resources delay ${lowResources.delayMinutes} must be whole minutes >= 0`);
      for (const t of lowResources.poolTags) if (!POOL_TAG.test(t) || /["\s]/.test(t)) throw new UsageError(`pool tag "${t}" must be 1-4 printable characters without spaces or quotes`);
      for (const a of lowResources.applications) if (!APPLICATION.test(a)) throw new UsageError(`application "${a}" must be an .exe file name`);
      // verifier /faults [Probability] [PoolTags] [Applications] [DelayMins] (windows.md §2). Several tags or
      // applications go in one space-separated argument, as the documentation sample prints them back
      // ("Tag1 Tag2"); that input form is unverified. An empty list is sent as "".
      commands = [['/faults', String(lowResources.probability), lowResources.poolTags.join(' '), lowResources.applications.join(' '), String(lowResources.delayMinutes), ...driverArgs]];
      // /faults turns on low resources simulation (0x4): the documentation sample shows it Enabled. That
      // is also why the profile never adds /flags with 0x4: the two do not combine (windows.md §2).
      expectedFlags = 0x4;
      notes.push(`faults start ${lowResources.delayMinutes} minutes after boot: workloads earlier than that see none`);
      break;
    }
    case 'ddi':
      commands = [['/flags', hex8(0x20000), ...driverArgs]];
      expectedFlags = 0x20000;
      break;
    case 'full':
      commands = [['/flags', hex8(FULL_FLAGS), ...driverArgs]];
      expectedFlags = FULL_FLAGS;
      if (ruleClasses) notes.push('full uses /flags only: combining /flags with /ruleclasses 37 on one command line is unverified; use the filter profile for Filter Verifier');
      break;
  }
  const bootMode = profile === 'none' ? null : (opts.bootMode ?? null);
  if (bootMode) {
    if (!BOOT_MODES.includes(bootMode)) throw new UsageError(`unknown boot mode "${bootMode}" (known: ${BOOT_MODES.join(', ')})`);
    // Sent as its own command after the settings; that verifier accepts /bootmode alone is unverified.
    commands.push(['/bootmode', bootMode]);
  }
  return {
    profile,
    release,
    releaseName: releaseName(release),
    commands,
    commandLines: commands.map((c) => ['verifier', ...c.map(quoteArg)].join(' ')),
    expectedFlags,
    expectedRuleClasses,
    drivers: profile === 'none' ? [] : drivers,
    bootMode,
    lowResources,
    needsReboot: commands.length > 0,
    notes,
  };
}

/** What a verifier.exe exit code means (windows.md §2). */
export function interpretVerifierExit(code: number): { ok: boolean; rebootRequired: boolean; meaning: string } {
  if (code === VERIFIER_EXIT.ok) return { ok: true, rebootRequired: false, meaning: 'success' };
  if (code === VERIFIER_EXIT.rebootRequired) return { ok: true, rebootRequired: true, meaning: 'success, reboot required for the settings to take effect' };
  if (code === VERIFIER_EXIT.error) return { ok: false, rebootRequired: false, meaning: 'verifier reported an error' };
  return { ok: false, rebootRequired: false, meaning: `unexpected exit code ${code}` };
}
