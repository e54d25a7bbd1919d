/**
 * The reference guest's disk: 16 MiB, raw, every 512-byte sector saying which it is, so a
 * host test can tell a misplaced read or write from a missing one.
 *
 * Sector n = "EMUHDISK" + n as u64 little-endian + bytes (i & 0xff) for i = 16..511. The
 * reference scripts made the same image (sha256 0ead1fd0c49d90ad...).
 */

export const SECTOR_SIZE = 512;
export const DISK_SIZE = 16 * 1024 * 1024;

const TAG = Buffer.from('EMUHDISK', 'latin1');

/** What sector `n` holds in a fresh image. */
export function diskSector(n: number): Uint8Array {
  const s = new Uint8Array(SECTOR_SIZE);
  s.set(TAG, 0);
  new DataView(s.buffer).setBigUint64(8, BigInt(n), true);
  for (let i = 16; i < SECTOR_SIZE; i++) s[i] = i & 0xff;
  return s;
}

/** A fresh image of `size` bytes (a multiple of 512; default 16 MiB). */
export function diskImage(size = DISK_SIZE): Uint8Array {
  const img = new Uint8Array(size);
  const view = new DataView(img.buffer);
  const proto = diskSector(0);
  for (let n = 0; n * SECTOR_SIZE < size; n++) {
    img.set(proto, n * SECTOR_SIZE);
    view.setBigUint64(n * SECTOR_SIZE + 8, BigInt(n), true);
  }
  return img;
}
