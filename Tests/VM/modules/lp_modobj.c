// SPDX-License-Identifier: GPL-2.0
/*
 * Test livepatch whose object is a module, not vmlinux: it patches lp_target_show() of
 * lp_target. It enables whether or not lp_target is loaded; the kernel patches the module
 * when it loads later.
 */
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

static int lp_modobj_show(struct seq_file *m, void *v)
{
	seq_puts(m, "livepatchd-test lp_modobj\n");
	return 0;
}

static struct klp_func funcs[] = {
	{ .old_name = "lp_target_show", .new_func = lp_modobj_show },
	{}
};

static struct klp_object objs[] = {
	{ .name = "lp_target", .funcs = funcs },
	{}
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int __init lp_modobj_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit lp_modobj_exit(void)
{
}

module_init(lp_modobj_init);
module_exit(lp_modobj_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("livepatchd test: patch of a module object");
MODULE_INFO(livepatch, "Y");
