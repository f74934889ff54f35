// SPDX-License-Identifier: GPL-2.0
/*
 * Test livepatch for downgrade protection: built twice (build.sh, LP_SEQ_BUILD=5 and 3) into
 * lp_seq-v5.ko and lp_seq-v3.ko, one module name, two builds. Each replaces
 * loadavg_proc_show() so that /proc/loadavg names its build, and carries it as its module
 * version (/sys/module/lp_seq/version): which build the kernel runs is visible from outside.
 */
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

#ifndef LP_SEQ_BUILD
#error "build.sh defines LP_SEQ_BUILD"
#endif

static int lp_seq_show(struct seq_file *m, void *v)
{
	seq_printf(m, "livepatchd-test lp_seq build %d\n", LP_SEQ_BUILD);
	return 0;
}

static struct klp_func funcs[] = {
	{ .old_name = "loadavg_proc_show", .new_func = lp_seq_show },
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

static int __init lp_seq_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit lp_seq_exit(void)
{
}

module_init(lp_seq_init);
module_exit(lp_seq_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("livepatchd test: downgrade protection, /proc/loadavg names the build");
MODULE_VERSION(__stringify(LP_SEQ_BUILD));
MODULE_INFO(livepatch, "Y");
