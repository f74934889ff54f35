// SPDX-License-Identifier: GPL-2.0
/*
 * A module without MODULE_INFO(livepatch, "Y"): livepatchd must reject it, and it must
 * never be inserted (it would load: nothing in the kernel stops it).
 */
#include <linux/kernel.h>
#include <linux/module.h>

static int __init lp_plain_init(void)
{
	return 0;
}

static void __exit lp_plain_exit(void)
{
}

module_init(lp_plain_init);
module_exit(lp_plain_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("livepatchd test: not a livepatch");
