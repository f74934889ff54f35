// SPDX-License-Identifier: GPL-2.0
/*
 * Test livepatch for livepatchd's VM tier: it patches a function the kernel does not have, as a
 * patch for another kernel build names one that build had. klp_enable_patch() refuses it with
 * EINVAL, and the kernel's only word on it names the symbol, not the patch:
 * "livepatch: symbol 'lp_no_such_function' not found in symbol table".
 */
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

static int lp_nofunc_show(struct seq_file *m, void *v)
{
	seq_puts(m, "livepatchd-test lp_nofunc\n");
	return 0;
}

static struct klp_func funcs[] = {
	{ .old_name = "lp_no_such_function", .new_func = lp_nofunc_show },
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

static int __init lp_nofunc_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit lp_nofunc_exit(void)
{
}

module_init(lp_nofunc_init);
module_exit(lp_nofunc_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("livepatchd test: patches a function the kernel does not have");
MODULE_INFO(livepatch, "Y");
