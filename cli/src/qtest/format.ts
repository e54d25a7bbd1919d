/** QEMU's response formats, byte for byte. */

/** `in*`: at least four hex digits, not padded to the access size (`OK 0x00ff`, `OK 0x11e81234`). */
export const fmtIn = (v: number): string => `OK 0x${v.toString(16).padStart(4, '0')}`;

/** `read*`: always sixteen hex digits. */
export const fmtRead = (v: bigint): string => `OK 0x${v.toString(16).padStart(16, '0')}`;

/** `read`: the bytes in address order as lowercase hex. */
export function fmtBytes(b: Uint8Array): string {
  let s = 'OK 0x';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
