// The lab guest's kernel command line and machine shape, written into the manifest for the provider.
//
// Crash path: the harness runs QEMU with `-device pvpanic -action panic=pause`. pvpanic's panic
// notifier writes to the device inside panic(), before panic= is looked at, so the VM pauses with
// GUEST_PANICKED whatever panic= says. `panic=-1` only matters when that event cannot happen (pvpanic
// not bound): the guest then resets at once (QMP SHUTDOWN guest-reset) instead of hanging silently,
// which a provider can still call a crash. The oops text is already on the serial console by then
// (printk writes the 8250 console synchronously in 6.1, and oops/panic raise the console loglevel).

export const LAB_APPEND = [
  'console=ttyS0,115200',
  // Oops text is printed at high priority whatever loglevel says; 5 keeps warnings (WARN_ON, lockups,
  // our module's trigger lines) on the console and drops the info-level boot chatter.
  'loglevel=5',
  'panic=-1',
  'oops=panic',
  'softlockup_panic=1',
  // Hard lockups panic when the NMI watchdog works (needs a virtual PMU: KVM yes, TCG no). Under TCG
  // a guest spinning with interrupts off is caught by the harness's heartbeat + QMP inject-nmi, which
  // unknown_nmi_panic turns into a panic.
  'nmi_watchdog=panic',
  'unknown_nmi_panic',
  // With two vCPUs a CPU spinning with interrupts off does not stop the guest: the other CPU keeps
  // answering the heartbeat. Under TCG there is no NMI watchdog to catch it, but RCU does: the grace
  // period cannot end while that CPU never passes a quiescent state, and after rcu_cpu_stall_timeout
  // (21 s in Debian's kernels) the other CPU reports the stall; this makes that report a panic, which
  // the console reader calls a hang (harness/crash/linux.ts), with the host's dump of it.
  'sysctl.kernel.panic_on_rcu_stall=1',
  // The measurement CPU. When the guest has a second vCPU (LAB_MACHINE: every lab VM now), CPU 1
  // is kept free of the guest's own housekeeping: no scheduler balancing or unbound work (isolcpus),
  // no periodic tick while one task runs (nohz_full, which also moves CPU 1's RCU callbacks to
  // threads on CPU 0, as rcu_nocbs=1 would), device interrupts on CPU 0 (irqaffinity). The agent is
  // pinned there and runs as one thread (LabGuest.runWorkload). Measured in the lab guest under TCG:
  // with one vCPU, work that comes with wall time (the tick, the RCU grace-period thread, callbacks
  // freeing files) preempted the measuring thread hundreds of times per 3,000 opens and lands more
  // often in a longer open, so a 200 µs delay read 20-40% high and p90 rose from 0.3 to 1.1 ms; on
  // the isolated CPU p90 stayed under 0.5 ms and 1,000 µs read within 10%. The lockup watchdog is kept
  // on CPU 1 too (nohz_full would take it off), so a deadlock there still panics. With one vCPU these
  // CPU-1 settings name a CPU the guest does not have: the kernel warns ("Housekeeping: nohz_full= or
  // isolcpus= incorrect CPU range") and ignores them. rcu_nocbs=1 is left out on purpose: with one
  // vCPU it falls back to "all CPUs set" and would change how the one-vCPU cells' guest runs RCU.
  'isolcpus=nohz,domain,managed_irq,1',
  'nohz_full=1',
  'irqaffinity=0',
  'sysctl.kernel.watchdog_cpumask=0-1',
].join(' ');

/**
 * Two vCPUs: CPU 0 for the guest's housekeeping, CPU 1 isolated for the agent (see LAB_APPEND), so
 * every lab cell measures the way calibration does (issue #17), and a warm state saved for the image
 * serves every cell. A hang on CPU 1 no longer stops the guest's heartbeat (sshd answers on CPU 0);
 * the RCU stall panic above catches it 21 s later (proved by the demo's fgfilter-hang cell, whose
 * trigger fires on CPU 1: product-hang, "INFO: rcu detected stall in fgfilter_fail_hang_irqoff"). A
 * hang on CPU 0 still stops the heartbeat, and the NMI path catches it.
 */
export const LAB_MACHINE = { type: 'pc', memoryMiB: 512, cpus: 2, crash: 'pvpanic' } as const;

/** vCPUs of a lab VM that measures latency (calibration, cells): the image's two. */
export const LAB_MEASURE_CPUS = LAB_MACHINE.cpus;

/** Size of the writable data partition (ext4 on /dev/vda1, mounted at /data); the base disk also holds the tools partition. */
export const LAB_DISK_MIB = 256;
