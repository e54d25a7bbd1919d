import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DISK_SIZE, diskImage, diskSector, SECTOR_SIZE } from './disk.js';

describe('the disk image', { timeout: 60_000 }, () => {
  it('is the reference image byte for byte (its sha256 starts 0ead1fd0c49d90ad)', () => {
    const img = diskImage();
    expect(img.length).toBe(DISK_SIZE);
    expect(createHash('sha256').update(img).digest('hex').slice(0, 16)).toBe('0ead1fd0c49d90ad');
  });

  it('sector n says EMUHDISK, n (u64 LE), then i & 0xff', () => {
    const s = diskSector(0x1234);
    expect(Buffer.from(s.subarray(0, 8)).toString('latin1')).toBe('EMUHDISK');
    expect(new DataView(s.buffer).getBigUint64(8, true)).toBe(0x1234n);
    expect(s[16]).toBe(16);
    expect(s[511]).toBe(0xff);
    const img = diskImage(4 * SECTOR_SIZE);
    expect(img.subarray(3 * SECTOR_SIZE, 4 * SECTOR_SIZE)).toEqual(diskSector(3));
  });
});
