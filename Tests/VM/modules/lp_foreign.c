// SPDX-License-Identifier: GPL-2.0
/*
 * Test livepatch for livepatchd's VM tier, loaded by hand with insmod: livepatchd must
 * list it as foreign and leave it alone. It replaces version_proc_show() (/proc/version).
 */
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

static int lp_foreign_show(struct seq_file *m, void *v)
{
	seq_puts(m, "livepatchd-test lp_foreign\n");
	return 0;
}

static struct klp_func funcs[] = {
	{ .old_name = "version_proc_show", .new_func = lp_foreign_show },
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

static int __init lp_foreign_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit lp_foreign_exit(void)
{
}

module_init(lp_foreign_init);
module_exit(lp_foreign_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("livepatchd test: loaded by hand (foreign)");
MODULE_INFO(livepatch, "Y");
