// SPDX-License-Identifier: GPL-2.0
/*
 * Test livepatch for livepatchd's VM tier: a second, independent patch. It replaces
 * uptime_proc_show() so that /proc/uptime shows a marker. The file name has a dash on
 * purpose: the module (and its /sys/kernel/livepatch directory) is named lp_uptime.
 */
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

static int lp_uptime_show(struct seq_file *m, void *v)
{
	seq_puts(m, "livepatchd-test lp_uptime\n");
	return 0;
}

static struct klp_func funcs[] = {
	{ .old_name = "uptime_proc_show", .new_func = lp_uptime_show },
	{}
};

static struct klp_object objs[] = {
	{ .funcs = funcs },
	{}
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int __init lp_uptime_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit lp_uptime_exit(void)
{
}

module_init(lp_uptime_init);
module_exit(lp_uptime_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("livepatchd test: /proc/uptime marker");
MODULE_INFO(livepatch, "Y");
