// Driver Verifier profile names a matrix may use. The command lines each profile produces per release
// come with the driver lifecycle; the names are fixed here so a matrix is checked before any VM starts.
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
