/**
 * The register interface as a guest driver sees it: reset values, what `capabilities`
 * advertises, the WARL behaviour Linux relies on (ddtp modes, queue sizes, icvec), queue
 * enabling, the command queue's errors and fences, and interrupts on wires and as MSIs.
 */
import { type DmaError, iova } from '@emuhost/sdk';
import { RISCV_IOMMU_REGS as R } from '@emuhost/testing';
import { describe, expect, it } from 'vitest';
import { requester, rig } from './test-support/load.js';

const CQCSR_CMD_ILL = 1 << 10;
const CQCSR_FENCE_W_IP = 1 << 11;
const ON = 1 << 16;

describe('riscv-iommu registers', () => {
  it('comes out of reset Off, refusing all DMA, with capabilities saying only what is implemented', async () => {
    const r = await rig({ init: false });
    const caps = r.g.readq(R.CAPABILITIES);
    expect(caps & 0xffn).toBe(0x10n); // version 1.0
    expect((caps >> 9n) & 1n).toBe(1n); // Sv39
    expect((caps >> 10n) & 1n).toBe(0n); // Sv48: only with the sv48 option
    expect((caps >> 17n) & 3n).toBe(1n); // Sv39x4
    expect((caps >> 28n) & 3n).toBe(2n); // IGS: MSI and WSI
    expect((caps >> 32n) & 0x3fn).toBe(56n); // PAS
    // Nothing else: Sv32/Sv57, Svpbmt, Sv32x4/Sv57x4, MSI_FLAT/MRIF, AMO_HWAD, ATS, T2GPA,
    // END, HPM, DBG, PD*.
    const known = 0xffn | (3n << 9n) | (3n << 17n) | (3n << 28n) | (0x3fn << 32n);
    expect(caps & ~known).toBe(0n);
    const wide = await rig({ init: false, sv48: true });
    expect(wide.g.readq(R.CAPABILITIES) ^ caps).toBe((1n << 10n) | (1n << 18n)); // Sv48, Sv48x4
    expect(r.g.readq(R.DDTP)).toBe(0n);
    const ctx = requester(r, 0x08);
    expect((ctx.readU32LE(iova(0x1000)) as DmaError).result).toBe('iommu-fault');
  });

  it('treats ddtp.MODE as WARL: known modes stick, others leave ddtp as it was', async () => {
    const r = await rig({ init: false });
    r.g.writeq(R.DDTP, 0x1234n << 10n);
    expect(r.g.readq(R.DDTP)).toBe(0x1234n << 10n); // Off, PPN kept
    for (const mode of [1n, 2n, 3n, 4n]) {
      r.g.writeq(R.DDTP, (0x2000n << 10n) | mode);
      expect(r.g.readq(R.DDTP)).toBe((0x2000n << 10n) | mode);
    }
    r.g.writeq(R.DDTP, 5n);
    expect(r.g.readq(R.DDTP)).toBe((0x2000n << 10n) | 4n);
    r.g.writeq(R.DDTP, 1n); // Bare: DMA is untranslated
    r.d.writel(0x5000, 0xabcdef01);
    expect(requester(r, 0x08).readU32LE(iova(0x5000))).toBe(0xabcdef01);
  });

  it('queues: base readable back as written (any size), enabling turns them on from index 0', async () => {
    const r = await rig({ init: false });
    r.g.writeq(R.CQB, 0x1fn);
    expect(r.g.readq(R.CQB)).toBe(0x1fn); // Linux's size discovery
    r.g.writeq(R.CQB, (0x1000000n >> 2n) | 5n);
    expect(r.g.readq(R.CQB)).toBe((0x1000000n >> 2n) | 5n);
    r.g.writel(R.CQT, 0);
    r.g.writel(R.CQCSR, 0x103);
    expect(r.g.readl(R.CQCSR)).toBe(ON | 3);
    expect(r.g.readl(R.CQH)).toBe(0);
    r.g.writeq(R.CQB, 0n); // ignored while on
    expect(r.g.readq(R.CQB)).toBe((0x1000000n >> 2n) | 5n);
    r.g.writel(R.CQCSR, 0);
    expect(r.g.readl(R.CQCSR)).toBe(0);
  });

  it('keeps two bits per icvec field (four vectors)', async () => {
    const r = await rig({ init: false });
    r.g.writeq(R.ICVEC, 0xfedcn);
    expect(r.g.readq(R.ICVEC)).toBe(0x3210n);
    r.g.writeq(R.ICVEC, 0x2310n);
    expect(r.g.readq(R.ICVEC)).toBe(0x2310n);
  });

  it('stops at an illegal command: cmd_ill, the command-queue wire, resumes once fixed and cleared', async () => {
    const r = await rig();
    r.g.command(0x7fn, 0n); // opcode 127: no such command
    const stuck = r.g.readl(R.CQH);
    expect(r.g.readl(R.CQCSR) & CQCSR_CMD_ILL).not.toBe(0);
    expect(r.g.readl(R.IPSR) & 1).toBe(1);
    expect(r.wires.wsi0).toBe(1); // civ = 0
    // Clearing ipsr alone does not drop it: the error is still there.
    r.g.writel(R.IPSR, 1);
    expect(r.wires.wsi0).toBe(1);
    // Replace the command with IOFENCE.C, clear cmd_ill (write 1), then ipsr.
    r.d.writeq(r.g.cq + stuck * 16, 2n);
    r.g.writel(R.CQCSR, r.g.readl(R.CQCSR));
    r.g.writel(R.IPSR, 1);
    expect(r.wires.wsi0).toBe(0);
    expect(r.g.readl(R.CQH)).toBe(stuck + 1);
  });

  it('IOFENCE.C writes its data when AV is set, and with WSI raises fence_w_ip on the wire', async () => {
    const r = await rig();
    r.g.command(2n | (1n << 10n) | (0xcafef00dn << 32n), 0x2000n >> 2n);
    expect(r.d.readl(0x2000)).toBe(0xcafef00d);
    expect(r.wires.wsi0 ?? 0).toBe(0);
    r.g.command(2n | (1n << 11n), 0n);
    expect(r.g.readl(R.CQCSR) & CQCSR_FENCE_W_IP).not.toBe(0);
    expect(r.wires.wsi0).toBe(1);
    r.g.writel(R.CQCSR, r.g.readl(R.CQCSR));
    r.g.writel(R.IPSR, 1);
    expect(r.wires.wsi0).toBe(0);
  });

  it('refuses IOFENCE.C with WSI when interrupts are MSIs, and sends MSIs through msi_cfg_tbl', async () => {
    const r = await rig({ wsi: false });
    r.g.command(2n | (1n << 11n), 0n);
    expect(r.g.readl(R.CQCSR) & CQCSR_CMD_ILL).not.toBe(0);
    // Vector 0's entry: address 0x3000, data 0x77, masked. The message waits for the unmask.
    r.d.writeq(r.g.base + 0x300, 0x3000n);
    r.d.writel(r.g.base + 0x308, 0x77);
    r.d.writel(r.g.base + 0x30c, 1);
    r.g.writel(R.IPSR, 1); // not cleared: cmd_ill is still set
    r.g.writel(R.CQCSR, r.g.readl(R.CQCSR)); // clear cmd_ill ...
    r.g.writel(R.IPSR, 1); // ... then cip
    r.d.writeq(r.g.cq + r.g.readl(R.CQH) * 16, 0x7fn); // make the stuck command illegal again
    r.g.writel(R.CQCSR, r.g.readl(R.CQCSR)); // resume: it fails again, cip becomes pending
    expect(r.d.readl(0x3000)).toBe(0);
    r.d.writel(r.g.base + 0x30c, 0);
    expect(r.d.readl(0x3000)).toBe(0x77);
    expect(Object.values(r.wires).every((l) => l === 0)).toBe(true);
  });

  it('changes fctl only while Off or Bare with the queues off', async () => {
    const r = await rig();
    expect(r.g.readl(R.FCTL)).toBe(2);
    r.g.writel(R.FCTL, 0);
    expect(r.g.readl(R.FCTL)).toBe(2);
    const fresh = await rig({ init: false });
    fresh.g.writel(R.FCTL, 7); // BE and GXL are fixed at 0
    expect(fresh.g.readl(R.FCTL)).toBe(2);
  });

  it('goes back to Off on a machine reset', async () => {
    const r = await rig();
    r.emu.reset();
    expect(r.g.readq(R.DDTP)).toBe(0n);
    expect(r.g.readl(R.CQCSR)).toBe(0);
  });
});
