// SPDX-License-Identifier: GPL-2.0
/*
 * Test livepatch whose transition stalls: it patches lp_stall_wait() of the helper module
 * lp_stall_target, whose thread sleeps inside that function until released.
 */
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>

static void lp_stall_wait_patched(void)
{
}

static struct klp_func funcs[] = {
	{ .old_name = "lp_stall_wait", .new_func = lp_stall_wait_patched },
	{}
};

static struct klp_object objs[] = {
	{ .name = "lp_stall_target", .funcs = funcs },
	{}
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int __init lp_stall_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit lp_stall_exit(void)
{
}

module_init(lp_stall_init);
module_exit(lp_stall_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("livepatchd test: a transition that stalls");
MODULE_INFO(livepatch, "Y");
