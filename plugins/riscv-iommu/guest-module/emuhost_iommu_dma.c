// SPDX-License-Identifier: GPL-2.0-only
/*
 * emuhost_iommu_dma: a guest kernel module that makes QEMU's edu device DMA through the
 * RISC-V IOMMU's page tables, on Debian's stock kernel (which runs every device in an
 * identity domain and has no VFIO backend for riscv). It finds edu (1234:11e8), allocates
 * a paging domain from the IOMMU driver, attaches edu's group to it, maps two buffers with
 * iommu_map() at IOVAs below edu's 28-bit DMA mask, and runs edu's DMA by IOVA:
 * RAM -> edu -> RAM, checking the bytes. Then it asks edu to DMA from an IOVA it never
 * mapped: the IOMMU must refuse it (edu's DMA status 4) and report a fault.
 *
 * Every result is a console line "EMUHOST-IOMMU-DMA: <step> <result>"; the module then stays
 * loaded (rmmod detaches and frees the domain) so the test can look at the IOMMU again.
 * Module parameter `rounds` repeats the copy (the host reloads the IOMMU in between).
 */
#include <linux/delay.h>
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>

#define TAG "EMUHOST-IOMMU-DMA: "
#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_SRC 0x80
#define EDU_DST 0x88
#define EDU_CNT 0x90
#define EDU_CMD 0x98
#define EDU_STATUS 0xa0
#define EDU_CMD_RUN 1
#define EDU_CMD_TO_RAM 2
#define EDU_BUF 0x40000

/* IOVAs: below 2^28 (edu's default DMA mask), 64 KiB apart, and one never mapped. */
#define IOVA_SRC 0x01000000UL
#define IOVA_DST 0x01010000UL
#define IOVA_UNMAPPED 0x02000000UL
#define LEN 4096

static int rounds = 1;
module_param(rounds, int, 0444);
MODULE_PARM_DESC(rounds, "copies to run, each after a marker line the host can act on");

static struct pci_dev *edu;
static void __iomem *bar;
static struct iommu_domain *domain;
static void *src, *dst;

static int edu_dma(u64 from, u64 to, u64 cnt, u64 cmd)
{
	int i;

	writeq(from, bar + EDU_SRC);
	writeq(to, bar + EDU_DST);
	writeq(cnt, bar + EDU_CNT);
	writeq(cmd | EDU_CMD_RUN, bar + EDU_CMD);
	/* edu completes 100 ms of virtual time later; poll in 10 ms steps, 5 s at most. */
	for (i = 0; i < 500; i++) {
		if (!(readq(bar + EDU_CMD) & EDU_CMD_RUN))
			return readl(bar + EDU_STATUS);
		msleep(10);
	}
	return -ETIMEDOUT;
}

static int copy_round(int round)
{
	int i, r1, r2, same;

	for (i = 0; i < LEN; i++) {
		((u8 *)src)[i] = (u8)(i * 7 + 0x5a + round);
		((u8 *)dst)[i] = 0;
	}
	r1 = edu_dma(IOVA_SRC, EDU_BUF, LEN, 0);
	r2 = edu_dma(EDU_BUF, IOVA_DST, LEN, EDU_CMD_TO_RAM);
	same = !memcmp(src, dst, LEN);
	pr_info(TAG "copy %d: RAM iova %#lx -> edu -> RAM iova %#lx: status %d/%d, bytes %s (%*ph)\n",
		round, IOVA_SRC, IOVA_DST, r1, r2, same ? "MATCH" : "DIFFER", 4, dst);
	return same && r1 == 0 && r2 == 0;
}

static int __init emuhost_iommu_dma_init(void)
{
	struct iommu_group *group;
	int ok = 1, r, i;

	edu = pci_get_device(EDU_VENDOR, EDU_DEVICE, NULL);
	if (!edu) {
		pr_info(TAG "no edu device\n");
		return -ENODEV;
	}
	group = iommu_group_get(&edu->dev);
	pr_info(TAG "edu %s, iommu group %d\n", pci_name(edu), group ? iommu_group_id(group) : -1);
	if (!group)
		goto err_put;
	iommu_group_put(group);
	r = pci_enable_device_mem(edu);
	if (r)
		goto err_put;
	pci_set_master(edu);
	bar = pci_iomap(edu, 0, 0);
	if (!bar)
		goto err_disable;

	domain = iommu_paging_domain_alloc(&edu->dev);
	if (IS_ERR(domain)) {
		pr_info(TAG "paging domain: FAILED %ld\n", PTR_ERR(domain));
		domain = NULL;
		goto err_unmap_bar;
	}
	r = iommu_attach_device(domain, &edu->dev);
	pr_info(TAG "attach paging domain: %d\n", r);
	if (r)
		goto err_free_domain;

	src = (void *)get_zeroed_page(GFP_KERNEL);
	dst = (void *)get_zeroed_page(GFP_KERNEL);
	if (!src || !dst)
		goto err_detach;
	r = iommu_map(domain, IOVA_SRC, virt_to_phys(src), LEN, IOMMU_READ, GFP_KERNEL);
	r = r ?: iommu_map(domain, IOVA_DST, virt_to_phys(dst), LEN, IOMMU_READ | IOMMU_WRITE,
			   GFP_KERNEL);
	pr_info(TAG "map iova %#lx -> pa %#llx (read), iova %#lx -> pa %#llx (read-write): %d\n",
		IOVA_SRC, (u64)virt_to_phys(src), IOVA_DST, (u64)virt_to_phys(dst), r);
	if (r)
		goto err_detach;
	pr_info(TAG "iova_to_phys %#lx = %#llx\n", IOVA_DST,
		(u64)iommu_iova_to_phys(domain, IOVA_DST));

	for (i = 0; i < rounds; i++) {
		if (i > 0) {
			/* The host may act here (reload the IOMMU's code); then the next copy runs. */
			pr_info(TAG "between copies %d\n", i);
			msleep(200);
		}
		ok &= copy_round(i);
	}

	/* A DMA outside the mappings: the IOMMU must refuse it and report a fault. */
	r = edu_dma(IOVA_UNMAPPED, EDU_BUF, 64, 0);
	pr_info(TAG "unmapped iova %#lx: status %d (%s)\n", IOVA_UNMAPPED, r,
		r == 4 ? "refused by the IOMMU" : "NOT REFUSED");
	ok &= r == 4;
	/* And a write into the read-only mapping. */
	r = edu_dma(EDU_BUF, IOVA_SRC, 64, EDU_CMD_TO_RAM);
	pr_info(TAG "write to read-only iova %#lx: status %d (%s)\n", IOVA_SRC, r,
		r == 4 ? "refused by the IOMMU" : "NOT REFUSED");
	ok &= r == 4;
	pr_info(TAG "verdict %s\n", ok ? "PASS" : "FAIL");
	return 0;

err_detach:
	iommu_detach_device(domain, &edu->dev);
err_free_domain:
	iommu_domain_free(domain);
	domain = NULL;
err_unmap_bar:
	pci_iounmap(edu, bar);
err_disable:
	pci_disable_device(edu);
err_put:
	pr_info(TAG "verdict FAIL (setup)\n");
	pci_dev_put(edu);
	edu = NULL;
	return -ENODEV;
}

static void __exit emuhost_iommu_dma_exit(void)
{
	if (!edu)
		return;
	iommu_unmap(domain, IOVA_SRC, LEN);
	iommu_unmap(domain, IOVA_DST, LEN);
	iommu_detach_device(domain, &edu->dev);
	iommu_domain_free(domain);
	free_page((unsigned long)src);
	free_page((unsigned long)dst);
	pci_iounmap(edu, bar);
	pci_disable_device(edu);
	pci_dev_put(edu);
	pr_info(TAG "unloaded\n");
}

module_init(emuhost_iommu_dma_init);
module_exit(emuhost_iommu_dma_exit);
MODULE_DESCRIPTION("emuhost: edu DMA through a RISC-V IOMMU paging domain");
MODULE_LICENSE("GPL");
