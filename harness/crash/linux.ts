// Reads a Linux serial console and finds the first crash in it: an oops, a panic, a lockup, or the
// panic an injected NMI causes. Titles are built the way syzkaller titles Linux crashes ("<what> in
// <function>"), so that the same bug gives the same title run after run: no addresses, CPU numbers,
// pids or timestamps.
import type { CrashKind, CrashReport, StackFrame } from './types.ts';

interface Header {
  re: RegExp;
  kind: CrashKind;
  /** The title's first part; a function may follow as " in fn". */
  what: (m: RegExpExecArray) => string;
  /** False when the header line already names what failed, so " in fn" adds nothing. */
  withFunction?: boolean;
}

// Ordered: the first header found in the text starts the report; when several match one line, the
// first in this list wins.
const HEADERS: Header[] = [
  { re: /BUG: kernel NULL pointer dereference, address: [0-9a-fx]+/, kind: 'OOPS', what: () => 'BUG: kernel NULL pointer dereference' },
  { re: /BUG: unable to handle page fault for address: [0-9a-fx]+/, kind: 'OOPS', what: () => 'BUG: unable to handle page fault' },
  { re: /BUG: unable to handle kernel (NULL pointer dereference|paging request)/, kind: 'OOPS', what: (m) => `BUG: unable to handle kernel ${m[1]}` },
  { re: /general protection fault(?:, probably for non-canonical address [0-9a-fx]+)?:/, kind: 'OOPS', what: () => 'general protection fault' },
  { re: /kernel BUG at ([^\s!]+)!/, kind: 'OOPS', what: (m) => `kernel BUG at ${m[1]}` },
  { re: /BUG: spinlock (recursion|lockup suspected|already unlocked|wrong owner|wrong CPU|bad magic)/, kind: 'HANG', what: (m) => `BUG: spinlock ${m[1]}` },
  { re: /watchdog: BUG: soft lockup - CPU#\d+ stuck for \d+s!/, kind: 'HANG', what: () => 'BUG: soft lockup' },
  { re: /(?:NMI )?watchdog: Watchdog detected hard LOCKUP on cpu \d+/, kind: 'HANG', what: () => 'hard LOCKUP' },
  { re: /rcu: INFO: rcu_(?:preempt|sched) (?:self-)?detected stall/, kind: 'HANG', what: () => 'INFO: rcu detected stall' },
  { re: /INFO: task [^\s:]+:\d+ blocked for more than \d+ seconds/, kind: 'HANG', what: () => 'INFO: task hung' },
  // An NMI injected by the harness into a hung guest: the lab sets unknown_nmi_panic, so this is the
  // first line of the dump the harness forced.
  { re: /Uhhuh\. NMI received for unknown reason [0-9a-f]+ on CPU \d+/, kind: 'HANG', what: () => 'NMI received for unknown reason' },
  { re: /WARNING: CPU: \d+ PID: \d+ at (\S+)/, kind: 'WARNING', what: () => 'WARNING' },
  { re: /Kernel panic - not syncing: (.*)$/, kind: 'PANIC', what: (m) => `kernel panic: ${normalizePanicMessage(m[1] ?? '')}`, withFunction: false },
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
  return line.replace(/\r$/, '').replace(PREFIX, '');
}

const RIP = /RIP: [0-9a-f]{4}:([A-Za-z0-9_.$]+)\+(0x[0-9a-f]+)\/0x[0-9a-f]+(?: \[([A-Za-z0-9_]+)\])?/;
const FRAME = /^\s*(\?\s+)?([A-Za-z0-9_.$]+)\+(0x[0-9a-f]+)\/0x[0-9a-f]+(?: \[([A-Za-z0-9_]+)\])?\s*$/;
const END_MARKERS = [/---\[ end trace/, /---\[ end Kernel panic/, /Kernel Offset:/, /Rebooting in \d+ seconds/];

function isGeneric(fn: string): boolean {
  return GENERIC_FRAMES.some((re) => re.test(fn));
}

/** Finds the first crash in a console log; null when there is none. */
export function parseLinuxConsole(text: string): CrashReport | null {
  const lines = text.split('\n').map(stripPrefix);
  let start = -1;
  let header: Header | undefined;
  let match: RegExpExecArray | null = null;
  for (let i = 0; i < lines.length && start < 0; i++) {
    for (const h of HEADERS) {
      const m = h.re.exec(lines[i]!);
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
  const title = header.withFunction === false || !fn ? what : `${what} in ${fn}`;
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
