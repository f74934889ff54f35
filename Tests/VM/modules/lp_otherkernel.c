// SPDX-License-Identifier: GPL-2.0
/*
 * Test livepatch for livepatchd's VM tier, built for another kernel release (build.sh
 * rewrites its vermagic) and shipped for that release: livepatchd keeps it staged and
 * never loads it on this kernel.
 */
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

static int lp_otherkernel_show(struct seq_file *m, void *v)
{
	seq_puts(m, "livepatchd-test lp_otherkernel (built for another kernel)\n");
	return 0;
}

static struct klp_func funcs[] = {
	{ .old_name = "cmdline_proc_show", .new_func = lp_otherkernel_show },
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

static int __init lp_otherkernel_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit lp_otherkernel_exit(void)
{
}

module_init(lp_otherkernel_init);
module_exit(lp_otherkernel_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("livepatchd test: for another kernel release");
MODULE_INFO(livepatch, "Y");
