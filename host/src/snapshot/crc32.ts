/**
 * CRC-32 (ISO-HDLC, zlib's and PNG's: reflected polynomial 0xedb88320), table-driven. Node 20
 * has no `zlib.crc32` (it came in 22.2), and a dependency for twenty lines is not worth it.
 */

const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** Continues the CRC `crc` (0 to start) over `bytes`; returns it as an unsigned 32-bit number. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
