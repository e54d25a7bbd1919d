/**
 * @emuhost/guest: the reference RISC-V guest (Debian's riscv64 kernel, OpenSBI, busybox) and
 * the images built for it. Host-side only; see DESIGN.md.
 *
 * - `ensure.ts`: `ensureGuest` (fetch and build if needed, return paths) and `GuestFiles`.
 * - `cache.ts`: `guestDir`, atomic writes, the lock.
 * - `manifest.ts`: `guest.json`, what the cache holds.
 * - `fetch.ts`, `kernel-fetch.ts`, `kernel-abi.ts`: choosing and fetching from Debian.
 * - `apt.ts`, `tools.ts`: the private APT state and the host programs it runs.
 * - `riscv-image.ts`: the RISC-V Image header check. `kconfig.ts`: the kernel config and the
 *   drivers the guest loads.
 * - `cpio.ts`: a newc writer. `initramfs.ts`: the `/init` flavours' images. `disk.ts`: the
 *   disk pattern. `report.ts`: reading the test flavour's console output.
 * - `cli.ts`: `npm run guest:fetch`.
 */

export { guestDir } from './cache.js';
export { type CpioEntry, newcArchive } from './cpio.js';
export { DISK_SIZE, diskImage, diskSector, SECTOR_SIZE } from './disk.js';
export { type EnsureOptions, ensureGuest, type GuestFiles } from './ensure.js';
export {
  buildInitramfs,
  flavourModules,
  type InitramfsInputs,
  initFlavours,
  initramfsEntries,
} from './initramfs.js';
export { GUEST_DRIVERS, type GuestDriver } from './kconfig.js';
export { type GuestManifest, readManifest } from './manifest.js';
export {
  GUEST_DISK_WRITE,
  GUEST_MARKER,
  type GuestPciDevice,
  type GuestReport,
  parseGuestReport,
} from './report.js';
export { checkRiscvImage, type ImageCheck, type RiscvImageHeader } from './riscv-image.js';
