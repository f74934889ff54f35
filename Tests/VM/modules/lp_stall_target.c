// SPDX-License-Identifier: GPL-2.0
/*
 * Helper for the stalled-transition scenario (not a livepatch): a kernel thread that
 * sleeps inside lp_stall_wait() until `release` is written, so a livepatch of that
 * function cannot switch the thread and its transition stalls. Insmod returns only once
 * the thread is inside the function, so the scenario has no race to lose.
 */
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/module.h>

static bool release;
module_param(release, bool, 0644);
MODULE_PARM_DESC(release, "write Y to let the thread leave lp_stall_wait()");

static DECLARE_COMPLETION(entered);
static struct task_struct *thread;

noinline void lp_stall_wait(void)
{
	complete(&entered);
	/* Livepatch wakes sleeping kthreads with a fake signal: keep sleeping here. */
	while (!READ_ONCE(release) && !kthread_should_stop())
		msleep_interruptible(50);
}

static int lp_stall_thread(void *data)
{
	lp_stall_wait();
	while (!kthread_should_stop())
		msleep_interruptible(100);
	return 0;
}

static int __init lp_stall_target_init(void)
{
	thread = kthread_run(lp_stall_thread, NULL, "lp_stall_thread");
	if (IS_ERR(thread))
		return PTR_ERR(thread);
	wait_for_completion(&entered);
	return 0;
}

static void __exit lp_stall_target_exit(void)
{
	kthread_stop(thread);
}

module_init(lp_stall_target_init);
module_exit(lp_stall_target_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("livepatchd test: a thread that sleeps in lp_stall_wait()");
