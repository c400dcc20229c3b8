// SPDX-License-Identifier: GPL-2.0
/*
 * fgfilter: the lab stand-in for the Windows minifilter. It sees every file open (a kprobe on
 * do_sys_openat2, the path every open(2)/openat(2)/openat2(2) takes), can slow each open down like a
 * filter doing policy work, and can fail in the ways a real filter fails so the harness's crash, hang
 * and leak detection can be proven on Linux.
 *
 * The same source builds under other module names (KBUILD_MODNAME comes from the Kbuild file), so a
 * "partner" filter can be loaded beside ours, both hooking the same path.
 *
 * Knobs, in /sys/module/<name>/parameters/:
 *   delay_us   rw  busy-wait per intercepted open, in microseconds (0..100000)
 *   opens      ro  intercepted opens since load
 *   trigger    wo  oops | panic | hang_irqoff | deadlock: armed, fires on the next intercepted open
 *                  (inside the open path, like a filter failing in its pre-create callback);
 *                  leak: allocates leak_kb KiB now and never frees it; none: disarms
 *   leak_kb    rw  KiB one "leak" trigger allocates (default 1024)
 *   leaked_kb  ro  KiB leaked so far (also reported in dmesg at unload)
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/irqflags.h>
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/panic.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timekeeping.h>

#define FG_MAX_DELAY_US 100000u

enum fg_trigger {
	FG_TRIGGER_NONE = 0,
	FG_TRIGGER_OOPS,
	FG_TRIGGER_PANIC,
	FG_TRIGGER_HANG_IRQOFF,
	FG_TRIGGER_DEADLOCK,
};

static unsigned int delay_us;
static atomic64_t fg_opens = ATOMIC64_INIT(0);
static atomic_t fg_armed = ATOMIC_INIT(FG_TRIGGER_NONE);
static unsigned int leak_kb = 1024;
static atomic64_t fg_leaked_kb = ATOMIC64_INIT(0);

/* Leaked blocks stay reachable only from this list, so the leak is real once the module unloads. */
struct fg_leak {
	struct list_head link;
	size_t bytes;
};
static LIST_HEAD(fg_leaks);
static DEFINE_MUTEX(fg_leak_lock);

/* The lock the "deadlock" trigger takes twice. */
static DEFINE_SPINLOCK(fg_self_lock);

/* ---- parameters ---- */

static int fg_delay_set(const char *val, const struct kernel_param *kp)
{
	unsigned int v;
	int err = kstrtouint(val, 0, &v);

	if (err)
		return err;
	if (v > FG_MAX_DELAY_US)
		return -ERANGE;
	WRITE_ONCE(delay_us, v);
	pr_info("delay_us=%u\n", v);
	return 0;
}

static const struct kernel_param_ops fg_delay_ops = {
	.set = fg_delay_set,
	.get = param_get_uint,
};
module_param_cb(delay_us, &fg_delay_ops, &delay_us, 0644);
MODULE_PARM_DESC(delay_us, "busy-wait per intercepted open, microseconds (0..100000)");

static int fg_opens_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%lld\n", (long long)atomic64_read(&fg_opens));
}

static const struct kernel_param_ops fg_opens_ops = {
	.get = fg_opens_get,
};
module_param_cb(opens, &fg_opens_ops, NULL, 0444);
MODULE_PARM_DESC(opens, "intercepted opens since load");

static int fg_leaked_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%lld\n", (long long)atomic64_read(&fg_leaked_kb));
}

static const struct kernel_param_ops fg_leaked_ops = {
	.get = fg_leaked_get,
};
module_param_cb(leaked_kb, &fg_leaked_ops, NULL, 0444);
MODULE_PARM_DESC(leaked_kb, "KiB leaked by the leak trigger so far");

module_param(leak_kb, uint, 0644);
MODULE_PARM_DESC(leak_kb, "KiB one leak trigger allocates and never frees");

/* Allocates in page-sized blocks so a large leak does not need a large contiguous allocation. */
static int fg_leak_now(unsigned int kb)
{
	size_t left = (size_t)kb * 1024;
	size_t done = 0;

	mutex_lock(&fg_leak_lock);
	while (left > 0) {
		size_t bytes = min_t(size_t, left, PAGE_SIZE);
		struct fg_leak *blk = kmalloc(max_t(size_t, bytes, sizeof(*blk)), GFP_KERNEL);

		if (!blk)
			break;
		/* Touch the memory so it is really backed, as a leaking filter's buffers would be. */
		memset(blk, 0xfb, max_t(size_t, bytes, sizeof(*blk)));
		blk->bytes = bytes;
		list_add(&blk->link, &fg_leaks);
		left -= bytes;
		done += bytes;
	}
	mutex_unlock(&fg_leak_lock);
	atomic64_add(done / 1024, &fg_leaked_kb);
	pr_warn("leak trigger: leaked %zu KiB (total %lld KiB)\n", done / 1024,
		(long long)atomic64_read(&fg_leaked_kb));
	return left ? -ENOMEM : 0;
}

static int fg_trigger_set(const char *val, const struct kernel_param *kp)
{
	char word[16];
	enum fg_trigger t;

	strscpy(word, val, sizeof(word));
	strim(word);
	if (!strcmp(word, "none")) {
		atomic_set(&fg_armed, FG_TRIGGER_NONE);
		pr_warn("trigger disarmed\n");
		return 0;
	}
	if (!strcmp(word, "leak"))
		return fg_leak_now(READ_ONCE(leak_kb));
	if (!strcmp(word, "oops"))
		t = FG_TRIGGER_OOPS;
	else if (!strcmp(word, "panic"))
		t = FG_TRIGGER_PANIC;
	else if (!strcmp(word, "hang_irqoff"))
		t = FG_TRIGGER_HANG_IRQOFF;
	else if (!strcmp(word, "deadlock"))
		t = FG_TRIGGER_DEADLOCK;
	else
		return -EINVAL;
	/* Warning level so the line reaches a quiet serial console: it explains the crash that follows. */
	pr_warn("trigger %s armed: fires on the next intercepted open\n", word);
	atomic_set(&fg_armed, t);
	return 0;
}

static const struct kernel_param_ops fg_trigger_ops = {
	.set = fg_trigger_set,
};
module_param_cb(trigger, &fg_trigger_ops, NULL, 0200);
MODULE_PARM_DESC(trigger, "oops|panic|hang_irqoff|deadlock (next open), leak (now), none");

/* ---- the failures; noinline so each shows by name in an oops or a lockup backtrace ---- */

static noinline void fgfilter_fail_oops(void)
{
	int *volatile p = NULL;

	pr_emerg("trigger oops: dereferencing NULL in the open path\n");
	*p = 0xf6; /* the oops: RIP names this function and [KBUILD_MODNAME] */
}

static noinline void fgfilter_fail_panic(void)
{
	panic("%s: panic trigger fired in the open path", KBUILD_MODNAME);
}

static noinline void fgfilter_fail_hang_irqoff(void)
{
	pr_emerg("trigger hang_irqoff: spinning with interrupts off (hard lockup)\n");
	local_irq_disable();
	for (;;)
		cpu_relax();
}

static noinline void fgfilter_fail_deadlock(void)
{
	pr_emerg("trigger deadlock: taking our spinlock twice (soft lockup)\n");
	spin_lock(&fg_self_lock);
	spin_lock(&fg_self_lock); /* never returns: the same CPU already holds it */
	spin_unlock(&fg_self_lock);
	spin_unlock(&fg_self_lock);
}

/* ---- the hook ---- */

/*
 * Busy-waits d microseconds of the guest's monotonic clock. Not udelay(): udelay counts TSC cycles
 * at the rate the kernel calibrated at boot, and under TCG that calibration depends on how busy the
 * host was then ("Unable to calibrate against PIT"), so udelay(200) took 300+ us of clock time on a
 * loaded host. The in-guest agent measures with the same monotonic clock, so a delay spun on it is
 * exactly the delay the harness should measure. The fast accessor is safe in the kprobe handler
 * (interrupts off) and reads the same clocksource.
 */
static void fg_spin_us(unsigned int d)
{
	u64 end = ktime_get_mono_fast_ns() + (u64)d * NSEC_PER_USEC;

	while (ktime_get_mono_fast_ns() < end)
		cpu_relax();
}

static int fgfilter_pre_open(struct kprobe *p, struct pt_regs *regs)
{
	unsigned int d = READ_ONCE(delay_us);
	int t;

	atomic64_inc(&fg_opens);
	if (d)
		fg_spin_us(d);
	t = atomic_xchg(&fg_armed, FG_TRIGGER_NONE);
	switch (t) {
	case FG_TRIGGER_OOPS:
		fgfilter_fail_oops();
		break;
	case FG_TRIGGER_PANIC:
		fgfilter_fail_panic();
		break;
	case FG_TRIGGER_HANG_IRQOFF:
		fgfilter_fail_hang_irqoff();
		break;
	case FG_TRIGGER_DEADLOCK:
		fgfilter_fail_deadlock();
		break;
	default:
		break;
	}
	return 0;
}

static struct kprobe fg_kp = {
	.symbol_name = "do_sys_openat2",
	.pre_handler = fgfilter_pre_open,
};

static int __init fgfilter_init(void)
{
	int err = register_kprobe(&fg_kp);

	if (err) {
		pr_err("register_kprobe(%s) failed: %d\n", fg_kp.symbol_name, err);
		return err;
	}
	pr_info("loaded: hooking %s at %px\n", fg_kp.symbol_name, fg_kp.addr);
	return 0;
}

static void __exit fgfilter_exit(void)
{
	unregister_kprobe(&fg_kp);
	/* The leak list is dropped on purpose: the memory stays allocated, as a leaking driver's would. */
	pr_warn("unloaded: %lld opens intercepted, %lld KiB leaked\n",
		(long long)atomic64_read(&fg_opens), (long long)atomic64_read(&fg_leaked_kb));
}

module_init(fgfilter_init);
module_exit(fgfilter_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("fleetgate lab file-open filter (plays the minifilter in the Linux lab guest)");
MODULE_AUTHOR("fleetgate");
