// Reads a Linux serial console and finds the first crash in it: an oops, a panic, a lockup, or the
// panic an injected NMI causes. Titles are built the way syzkaller titles Linux crashes ("<what> in
// <function>"), so that the same bug gives the same title run after run: no addresses, CPU numbers,
// pids or timestamps.
//
// The console is the guest's (issue #16): it is cut to LINUX_CONSOLE_MAX_CHARS and its lines to
// LINUX_CONSOLE_MAX_LINE_CHARS before it is read (the report says so in `truncated`), and every pattern
// is linear in the line it reads. Guest text may hold any character (ESC, NUL): it is read as it is,
// and the title is made from printable characters only (lib/printable.ts escapes the rest visibly),
// so every sink of the title (summary.json, reports, terminals, bucket ids) gets the clean one.
import { escapeControls } from '../../lib/printable.ts';
import { boundText, type TextBounds, type Truncation } from '../../lib/text-bounds.ts';
import type { CrashKind, CrashReport, StackFrame } from './types.ts';

/**
 * Characters of a console log read (16 MiB): a lab guest prints its boot and a workload's messages in
 * well under a megabyte. A crash after this point is not seen, and the reader says the log was cut.
 */
export const LINUX_CONSOLE_MAX_CHARS = 16 * 1024 * 1024;
/** Characters read of each console line (4 KiB): printk lines are at most 1,024. */
export const LINUX_CONSOLE_MAX_LINE_CHARS = 4096;
const CONSOLE_BOUNDS: TextBounds = { maxChars: LINUX_CONSOLE_MAX_CHARS, maxLineChars: LINUX_CONSOLE_MAX_LINE_CHARS };

interface Header {
  /** The match on one line: [whole, ...groups], or null. */
  find: (line: string) => ReadonlyArray<string | undefined> | null;
  kind: CrashKind;
  /** The title's first part; a function may follow as " in fn". */
  what: (m: ReadonlyArray<string | undefined>) => string;
  /** False when the header line already names what failed, so " in fn" adds nothing. */
  withFunction?: boolean;
}

const re = (pattern: RegExp): Header['find'] => (line) => pattern.exec(line);

const PANIC = 'Kernel panic - not syncing: ';
/** `Kernel panic - not syncing: <message>` anywhere in the line: the message is the rest of it. */
function findPanic(line: string): string[] | null {
  const at = line.indexOf(PANIC);
  return at < 0 ? null : [line.slice(at), line.slice(at + PANIC.length)];
}

// Ordered: the first header found in the text starts the report; when several match one line, the
// first in this list wins.
const HEADERS: Header[] = [
  { find: re(/BUG: kernel NULL pointer dereference, address: [0-9a-fx]+/), kind: 'OOPS', what: () => 'BUG: kernel NULL pointer dereference' },
  { find: re(/BUG: unable to handle page fault for address: [0-9a-fx]+/), kind: 'OOPS', what: () => 'BUG: unable to handle page fault' },
  { find: re(/BUG: unable to handle kernel (NULL pointer dereference|paging request)/), kind: 'OOPS', what: (m) => `BUG: unable to handle kernel ${m[1]}` },
  { find: re(/general protection fault(?:, probably for non-canonical address [0-9a-fx]+)?:/), kind: 'OOPS', what: () => 'general protection fault' },
  { find: re(/kernel BUG at ([^\s!]+)!/), kind: 'OOPS', what: (m) => `kernel BUG at ${m[1]}` },
  { find: re(/BUG: spinlock (recursion|lockup suspected|already unlocked|wrong owner|wrong CPU|bad magic)/), kind: 'HANG', what: (m) => `BUG: spinlock ${m[1]}` },
  { find: re(/watchdog: BUG: soft lockup - CPU#\d+ stuck for \d+s!/), kind: 'HANG', what: () => 'BUG: soft lockup' },
  { find: re(/(?:NMI )?watchdog: Watchdog detected hard LOCKUP on cpu \d+/), kind: 'HANG', what: () => 'hard LOCKUP' },
  { find: re(/rcu: INFO: rcu_(?:preempt|sched) (?:self-)?detected stall/), kind: 'HANG', what: () => 'INFO: rcu detected stall' },
  { find: re(/INFO: task [^\s:]+:\d+ blocked for more than \d+ seconds/), kind: 'HANG', what: () => 'INFO: task hung' },
  // An NMI injected by the harness into a hung guest: the lab sets unknown_nmi_panic, so this is the
  // first line of the dump the harness forced.
  { find: re(/Uhhuh\. NMI received for unknown reason [0-9a-f]+ on CPU \d+/), kind: 'HANG', what: () => 'NMI received for unknown reason' },
  { find: re(/WARNING: CPU: \d+ PID: \d+ at (\S+)/), kind: 'WARNING', what: () => 'WARNING' },
  { find: findPanic, kind: 'PANIC', what: (m) => `kernel panic: ${normalizePanicMessage(m[1] ?? '')}`, withFunction: false },
];

// Frames that are plumbing, never the culprit: the report blames the first frame that is not one.
const GENERIC_FRAMES = [
  /^(?:__)?(?:const_)?udelay$/, /^delay_tsc$/, /^__delay$/, /^delay_halt/, /^native_safe_halt$/, /^default_idle/,
  /^_raw_spin_(?:un)?lock/, /^queued_spin_lock_slowpath$/, /^native_queued_spin_lock_slowpath$/, /^do_raw_spin_lock$/,
  /^panic$/, /^vpanic$/, /^dump_stack/, /^show_stack$/, /^__warn$/, /^warn_slowpath/, /^report_bug$/,
  /^handle_bug$/, /^exc_/, /^asm_exc_/, /^do_error_trap$/, /^do_trap$/, /^die$/, /^oops_/, /^__die/,
  /^page_fault_oops$/, /^kernelmode_fixup_or_oops$/, /^__bad_area_nosemaphore$/, /^do_user_addr_fault$/,
  /^nmi_/, /^unknown_nmi_error$/, /^default_do_nmi$/, /^exc_nmi$/, /^end_repeat_nmi$/,
  /^kprobe_/, /^opt_pre_handler$/, /^optimized_callback$/, /^aggr_pre_handler$/, /^pre_handler_kretprobe$/,
  /^__kprobes_text_start$/, /^kprobe_ftrace_handler$/, /^arch_ftrace_ops_list_func$/, /^ftrace_/,
  /^param_attr_store$/, /^module_attr_store$/, /^sysfs_kf_write$/, /^kernfs_fop_write_iter$/, /^vfs_write$/,
  /^ksys_write$/, /^__x64_sys_write$/, /^do_syscall_64$/, /^entry_SYSCALL_64/, /^x64_sys_call$/,
];

function normalizePanicMessage(msg: string): string {
  return msg
    .trim()
    .replace(/\b0x[0-9a-f]+\b/gi, 'ADDR')
    .replace(/\bCPU#?\s*\d+/g, 'CPU')
    .replace(/\bpid:? ?\d+/gi, 'pid')
    .replace(/\s+/g, ' ');
}

// "[   12.345678] " kernel timestamps and "[    T1] " caller ids.
const PREFIX = /^\s*(?:\[\s*\d+\.\d+\]\s?)?(?:\[\s*[CT]\d+\]\s?)?/;

function stripPrefix(line: string): string {
  if (line === '') return line;
  return line.replace(/\r$/, '').replace(PREFIX, '');
}

const RIP = /RIP: [0-9a-f]{4}:([A-Za-z0-9_.$]+)\+(0x[0-9a-f]+)\/0x[0-9a-f]+(?: \[([A-Za-z0-9_]+)\])?/;
const FRAME = /^\s*(\?\s+)?([A-Za-z0-9_.$]+)\+(0x[0-9a-f]+)\/0x[0-9a-f]+(?: \[([A-Za-z0-9_]+)\])?\s*$/;
const END_MARKERS = [/---\[ end trace/, /---\[ end Kernel panic/, /Kernel Offset:/, /Rebooting in \d+ seconds/];

function isGeneric(fn: string): boolean {
  return GENERIC_FRAMES.some((re) => re.test(fn));
}

/**
 * Finds the first crash in a console log; null when there is none. A log over the bounds is read up
 * to them: a report found says so in `truncated`; readLinuxConsole also tells when nothing was found
 * in a cut log.
 */
export function parseLinuxConsole(text: string): CrashReport | null {
  return readLinuxConsole(text).report;
}

/** parseLinuxConsole, and whether the log was cut to its bounds (said even when no crash was found). */
export function readLinuxConsole(input: string): { report: CrashReport | null; truncated: Truncation | null } {
  const { text, truncated } = boundText('console log', input, CONSOLE_BOUNDS);
  const report = findCrash(text);
  if (report && truncated) report.truncated = truncated;
  return { report, truncated };
}

function findCrash(text: string): CrashReport | null {
  const lines = text.split('\n').map(stripPrefix);
  let start = -1;
  let header: Header | undefined;
  let match: ReadonlyArray<string | undefined> | null = null;
  for (let i = 0; i < lines.length && start < 0; i++) {
    // No header fits in an empty line: skipping them keeps a log of blank runs (a hostile console, or
    // a guest that printed newlines for minutes) from costing every header pattern per line.
    if (lines[i] === '') continue;
    for (const h of HEADERS) {
      const m = h.find(lines[i]!);
      if (m) {
        start = i;
        header = h;
        match = m;
        break;
      }
    }
  }
  if (!header || !match) return null;

  // A panic that follows an oops is the oops' consequence (panic_on_oops): the oops is the report.
  // Collect everything up to the end marker of the last panic or trace.
  let end = lines.length - 1;
  let corrupted = true;
  for (let i = start; i < lines.length; i++) {
    if (END_MARKERS.some((re) => re.test(lines[i]!))) {
      end = i;
      corrupted = false;
      if (/end Kernel panic|Rebooting in/.test(lines[i]!)) break;
    }
  }
  const body = lines.slice(start, end + 1);

  // The first RIP and Call Trace after the header describe the faulting context.
  let rip: StackFrame | undefined;
  const frames: StackFrame[] = [];
  let inTrace = false;
  for (const line of body) {
    if (!rip) {
      const m = RIP.exec(line);
      if (m) rip = { function: m[1]!, offset: m[2]!, ...(m[3] ? { module: m[3] } : {}) };
    }
    if (/^\s*Call Trace:/.test(line)) {
      if (frames.length > 0) break; // a second trace belongs to a later report
      inTrace = true;
      continue;
    }
    if (!inTrace) continue;
    if (/^\s*<\/?(?:TASK|IRQ|NMI|SOFTIRQ)>/.test(line)) continue;
    const f = FRAME.exec(line);
    if (f) {
      if (f[1]) continue; // "? fn": a stale return address on the stack, not a frame
      frames.push({ function: f[2]!, offset: f[3]!, ...(f[4] ? { module: f[4] } : {}) });
      continue;
    }
    if (frames.length > 0 && !/^\s*$/.test(line)) inTrace = false;
  }

  const ordered = rip ? [rip, ...frames] : frames;
  const culpritIndex = Math.max(0, ordered.findIndex((f) => !isGeneric(f.function)));
  const culprit = ordered[culpritIndex];
  // A kernel function that faulted on a module's behalf (strlen called from our handler) blames the
  // module that called it: the nearest module frame just above the culprit.
  const blamedModule = culprit?.module ?? ordered.slice(culpritIndex, culpritIndex + 3).find((f) => f.module)?.module;

  const what = header.what(match);
  const fn = culprit?.function;
  // Issue #16 row 8: the panic message and BUG file come from the guest; ESC, BEL, NUL as \x1b...
  const title = escapeControls(header.withFunction === false || !fn ? what : `${what} in ${fn}`);
  const report: CrashReport = {
    kind: header.kind,
    title,
    frames: ordered,
    startLine: start + 1,
    endLine: end + 1,
    corrupted,
  };
  if (fn) report.function = fn;
  if (blamedModule) report.module = blamedModule;
  else if (header.kind === 'PANIC') {
    // panic("fgfilter: ...") names its module in its message when no frame of its own is shown.
    const m = /^([A-Za-z0-9_]+):/.exec(match[1] ?? '');
    if (m) report.module = m[1]!;
  }
  return report;
}
