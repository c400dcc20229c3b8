// One untrusted-input reader as the hostile-input benchmark drives it: a way to make an input of about
// `kb` kilobytes from the reader's fuzz corpus (real samples, mutated and grown), and the call to time.
// Each group of readers lists its own in a file beside this one; bench/hostile-input.ts runs them all.

export interface HostileCase {
  /** What this input is: "blank lines around a bugcheck header", "fuzz corpus #3". */
  label: string;
  /** Input of roughly `kb` KB (text or bytes). */
  make: (kb: number) => string | Uint8Array;
}

/** One of the issue's table rows at 100 times its size, timed on its own before the per-KB table. */
export interface IssueRow {
  label: string;
  input: string;
  /** What the product does with such an input (the triage check and reader, the fltmc readers...). */
  read: (input: string) => unknown;
}

export interface BenchReader {
  /** The reader, as a newcomer would search for it: "kd analysis (harness/crash/windows/kd.ts)". */
  name: string;
  cases: HostileCase[];
  /** Runs the reader on one input; may throw the reader's own InputError (that counts as handled). */
  read: (input: string | Uint8Array) => unknown | Promise<unknown>;
}
