// SPDX-License-Identifier: GPL-2.0
/*
 * Helper for the module-object scenario (not a livepatch): /proc/lp_target shows what
 * lp_target_show() prints, which lp_modobj patches.
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

noinline int lp_target_show(struct seq_file *m, void *v)
{
	seq_puts(m, "lp_target original\n");
	return 0;
}

static int __init lp_target_init(void)
{
	return proc_create_single("lp_target", 0444, NULL, lp_target_show) ? 0 : -ENOMEM;
}

static void __exit lp_target_exit(void)
{
	remove_proc_entry("lp_target", NULL);
}

module_init(lp_target_init);
module_exit(lp_target_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("livepatchd test: /proc/lp_target");
