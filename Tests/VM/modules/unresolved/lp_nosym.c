// SPDX-License-Identifier: GPL-2.0
/*
 * Test livepatch for livepatchd's VM tier: its new cmdline_proc_show() calls a function no
 * kernel has, as a patch built against another kernel build calls one that build had. The
 * module loader refuses it ("lp_nosym: Unknown symbol lp_no_such_symbol", ENOENT) before the
 * patch is ever enabled.
 */
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

extern void lp_no_such_symbol(struct seq_file *m);

static int lp_nosym_show(struct seq_file *m, void *v)
{
	lp_no_such_symbol(m);
	return 0;
}

static struct klp_func funcs[] = {
	{ .old_name = "cmdline_proc_show", .new_func = lp_nosym_show },
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

static int __init lp_nosym_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit lp_nosym_exit(void)
{
}

module_init(lp_nosym_init);
module_exit(lp_nosym_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("livepatchd test: calls a symbol the kernel does not have");
MODULE_INFO(livepatch, "Y");
