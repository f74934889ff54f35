// SPDX-License-Identifier: GPL-2.0
/*
 * Test livepatch for livepatchd's VM tier: build.sh rewrites its vermagic release after
 * the build. The kernel (CONFIG_MODVERSIONS) would still load it; livepatchd must not.
 */
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

static int lp_badmagic_show(struct seq_file *m, void *v)
{
	seq_puts(m, "livepatchd-test lp_badmagic (wrong vermagic)\n");
	return 0;
}

static struct klp_func funcs[] = {
	{ .old_name = "cmdline_proc_show", .new_func = lp_badmagic_show },
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

static int __init lp_badmagic_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit lp_badmagic_exit(void)
{
}

module_init(lp_badmagic_init);
module_exit(lp_badmagic_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("livepatchd test: built for another kernel release");
MODULE_INFO(livepatch, "Y");
