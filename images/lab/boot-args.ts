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
].join(' ');

export const LAB_MACHINE = { type: 'pc', memoryMiB: 512, cpus: 1, crash: 'pvpanic' } as const;

/** Size of the writable data partition (ext4 on /dev/vda1, mounted at /data); the base disk also holds the tools partition. */
export const LAB_DISK_MIB = 256;
