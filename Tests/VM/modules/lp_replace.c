// SPDX-License-Identifier: GPL-2.0
/*
 * Test livepatch for livepatchd's VM tier: a cumulative patch (.replace = true). It
 * carries its own cmdline_proc_show() and nothing for uptime_proc_show(), so once it is
 * enabled /proc/cmdline shows its marker and /proc/uptime is the kernel's again.
 */
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

static int lp_replace_cmdline_show(struct seq_file *m, void *v)
{
	seq_puts(m, "livepatchd-test lp_replace v2\n");
	return 0;
}

static struct klp_func funcs[] = {
	{ .old_name = "cmdline_proc_show", .new_func = lp_replace_cmdline_show },
	{}
};

static struct klp_object objs[] = {
	{ .funcs = funcs },
	{}
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
	.replace = true,
};

static int __init lp_replace_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit lp_replace_exit(void)
{
}

module_init(lp_replace_init);
module_exit(lp_replace_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("livepatchd test: cumulative replace of /proc/cmdline");
MODULE_INFO(livepatch, "Y");
