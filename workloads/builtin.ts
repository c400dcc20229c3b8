// Names of the built-in workloads (workloads/<name>.yaml). A matrix may name one of these or a path to
// a workload file of its own.
export const BUILTIN_WORKLOADS = {
  'file-storm': 'many small files created, opened, read, written and deleted',
  'process-churn': 'short-lived processes started and reaped',
  'build-like': 'a tree of many small files created, read, renamed and deleted, like a compiler',
  archive: 'many files extracted from an archive',
} as const satisfies Record<string, string>;

export type BuiltinWorkload = keyof typeof BUILTIN_WORKLOADS;
export const BUILTIN_WORKLOAD_NAMES = Object.keys(BUILTIN_WORKLOADS) as BuiltinWorkload[];
