// For tests that a secret never reaches a command line (issue #16 row 10): the argv of every process on
// this machine, sampled from /proc/<pid>/cmdline while a test runs, and a check that a text gives a
// secret away, plainly or inside the base64 layers fleetgate's commands are made of (-EncodedCommand:
// base64 of UTF-16LE script text, whose input is base64 of UTF-8 JSON).
import { readdirSync, readFileSync } from 'node:fs';

const BASE64_CHARS = new Set('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=');
/** Base64 runs shorter than this cannot hold a secret worth the name; skipping them keeps the search small. */
const MIN_RUN = 12;

/** Line breaks inside a run: base64 sent on stdin comes in 76-character lines (encode.ts). */
const LINE_BREAKS = new Set('\r\n');

/**
 * The maximal runs of base64 characters in `text`, line breaks inside a run dropped (without regular
 * expressions: any text may come).
 */
function base64Runs(text: string): string[] {
  const runs: string[] = [];
  let run = '';
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text[i]! : '';
    if (BASE64_CHARS.has(c)) {
      run += c;
      continue;
    }
    if (LINE_BREAKS.has(c) && run !== '') continue;
    if (run.length >= MIN_RUN) runs.push(run);
    run = '';
  }
  return runs;
}

/** `run` without its trailing `=` padding (a walk from the end: `/=+$/` backtracks quadratically). */
function withoutPadding(run: string): string {
  let end = run.length;
  while (end > 0 && run[end - 1] === '=') end--;
  return run.slice(0, end);
}

/**
 * Whether `text` holds `secret`: as it is, or after decoding base64 runs as UTF-8 or UTF-16LE, up to
 * `depth` layers deep. Each run is tried at the four alignments a quantum can start at, so a secret
 * inside a run that does not start on its own boundary is found too.
 */
export function revealsSecret(text: string, secret: string, depth = 3): boolean {
  if (text.includes(secret)) return true;
  if (depth === 0) return false;
  for (const run of base64Runs(text)) {
    for (let shift = 0; shift < 4; shift++) {
      const bytes = Buffer.from(withoutPadding(run.slice(shift)), 'base64');
      if (bytes.length === 0) continue;
      if (revealsSecret(bytes.toString('utf8'), secret, depth - 1)) return true;
      if (revealsSecret(bytes.toString('utf16le'), secret, depth - 1)) return true;
      if (bytes.length > 1 && revealsSecret(bytes.subarray(1).toString('utf16le'), secret, depth - 1)) return true;
    }
  }
  return false;
}

/** One process seen: its id and its argv (NUL-separated in /proc, joined with spaces here). */
export interface SeenProcess {
  pid: number;
  argv: string;
}

/** The argv of every process readable in /proc right now (processes that end while read are skipped). */
export function processArgv(): SeenProcess[] {
  const out: SeenProcess[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      const raw = readFileSync(`/proc/${pid}/cmdline`);
      if (raw.length > 0) out.push({ pid, argv: raw.toString('utf8').split('\0').join(' ').trimEnd() });
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/** The parent of `pid` from /proc/<pid>/stat (its fourth field, after the parenthesised name), or null. */
export function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    return Number.isInteger(ppid) ? ppid : null;
  } catch {
    return null;
  }
}

/** Every process whose ancestors include `pid`. */
export function descendantsOf(pid: number): SeenProcess[] {
  const all = processArgv();
  const parent = new Map(all.map((p) => [p.pid, parentOf(p.pid)] as const));
  return all.filter((p) => {
    for (let up = parent.get(p.pid) ?? null, hops = 0; up !== null && hops < 64; up = parentOf(up), hops++) {
      if (up === pid) return true;
    }
    return false;
  });
}

/**
 * Samples the argv of every process every `intervalMs` until stop(). Distinct argv texts are kept
 * (a long test sees the same processes again and again), with how many samples were taken.
 */
export class ArgvWatch {
  private readonly seen = new Map<string, SeenProcess>();
  private timer: NodeJS.Timeout | undefined;
  samples = 0;

  constructor(private readonly intervalMs = 10) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  sample(): void {
    this.samples++;
    for (const p of processArgv()) if (!this.seen.has(p.argv)) this.seen.set(p.argv, p);
  }

  /** Stops sampling (after one last sample) and returns every distinct argv seen. */
  stop(): SeenProcess[] {
    clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    return [...this.seen.values()];
  }
}
