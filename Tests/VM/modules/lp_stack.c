// SPDX-License-Identifier: GPL-2.0
/*
 * Test livepatch for livepatchd's VM tier: a second, non-replace patch of
 * cmdline_proc_show(), enabled after lp_cmdline and so stacked on top of it. Reverting
 * lp_cmdline while it is applied must be refused (the kernel itself would accept it).
 */
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

static int lp_stack_show(struct seq_file *m, void *v)
{
	seq_puts(m, "livepatchd-test lp_stack (stacked on lp_cmdline)\n");
	return 0;
}

static struct klp_func funcs[] = {
	{ .old_name = "cmdline_proc_show", .new_func = lp_stack_show },
	{}
};

static struct klp_object objs[] = {
	{ .funcs = funcs }, /* no .name: vmlinux */
	{}
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int __init lp_stack_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit lp_stack_exit(void)
{
}

module_init(lp_stack_init);
module_exit(lp_stack_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("livepatchd test: stacked on lp_cmdline");
MODULE_INFO(livepatch, "Y");
