/** The register file of the faulty fixture: reading 0x10 throws from here. */
export function readRegister(offset: number): number {
  if (offset === 0x10) {
    throw new Error(`register 0x${offset.toString(16)} is not implemented`);
  }
  return offset === 0 ? 0x600d : 0;
}
