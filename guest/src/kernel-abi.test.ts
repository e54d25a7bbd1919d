import { describe, expect, it } from 'vitest';
import { abisFromPackages, compareAbiNewestFirst, parseAbi, planKernels } from './kernel-abi.js';

/** The riscv64 kernels Debian listed on 2026-12-02 (shared/reference/riscv-guest/kernels.txt). */
const LISTED = [
  'linux-image-6.12.107+deb13-riscv64',
  'linux-image-6.12.115+deb13.1-riscv64',
  'linux-image-6.12.118+deb13-riscv64',
  'linux-image-7.2.11+deb13-riscv64',
  'linux-image-7.2.13+deb14-riscv64',
  'linux-image-7.2.6+deb13-riscv64',
  'linux-image-7.2.9+deb13-riscv64',
  'linux-image-7.3.4+deb13-riscv64',
  'linux-image-7.3.4+deb13-riscv64-dbg',
  'linux-image-riscv64',
  'linux-image-cloud-riscv64',
];

describe('kernel ABIs', () => {
  it('parses the ABI with or without the flavour', () => {
    expect(parseAbi('7.2.13+deb14')).toEqual({
      abi: '7.2.13+deb14',
      major: 7,
      minor: 2,
      patch: 13,
      suffix: '+deb14',
    });
    expect(parseAbi('6.12.115+deb13.1-riscv64')?.abi).toBe('6.12.115+deb13.1');
    expect(parseAbi('riscv64')).toBeUndefined();
    expect(parseAbi('cloud')).toBeUndefined();
  });

  it('orders by version numbers, not text (7.2.13 after 7.2.9 is newer)', () => {
    const abis = abisFromPackages(LISTED)
      .sort(compareAbiNewestFirst)
      .map((k) => k.abi);
    expect(abis).toEqual([
      '7.3.4+deb13',
      '7.2.13+deb14',
      '7.2.11+deb13',
      '7.2.9+deb13',
      '7.2.6+deb13',
      '6.12.118+deb13',
      '6.12.115+deb13.1',
      '6.12.107+deb13',
    ]);
  });

  it('plans the kernels >= 6.13, newest first', () => {
    expect(planKernels(abisFromPackages(LISTED))).toEqual({
      order: ['7.3.4+deb13', '7.2.13+deb14', '7.2.11+deb13', '7.2.9+deb13', '7.2.6+deb13'],
      pinListed: false,
    });
  });

  it('puts a listed pin first and falls back along the rest', () => {
    expect(planKernels(abisFromPackages(LISTED), '7.2.9+deb13').order).toEqual([
      '7.2.9+deb13',
      '7.3.4+deb13',
      '7.2.13+deb14',
      '7.2.11+deb13',
      '7.2.6+deb13',
    ]);
    expect(planKernels(abisFromPackages(LISTED), '6.12.118+deb13').order[0]).toBe('6.12.118+deb13');
    expect(planKernels(abisFromPackages(LISTED), '9.9.9+deb99')).toMatchObject({
      pinListed: false,
    });
  });
});
