/**
 * Address helpers: the only places a plain number becomes a branded address.
 *
 * They check nothing on the hot path beyond what the brand needs (nothing): an out-of-range
 * address is a decode error at the access, which is where the guest can see it.
 */
import type { GuestPhysAddr, IoPortAddr, Iova } from './contract.js';

/** Marks a number as a guest-physical address. */
export const gpa = (n: number): GuestPhysAddr => n as GuestPhysAddr;

/** Marks a number as an I/O virtual address (what a device issues before translation). */
export const iova = (n: number): Iova => n as Iova;

/** Marks a number as an I/O port. */
export const ioPort = (n: number): IoPortAddr => n as IoPortAddr;

/** `addr + delta`, keeping the address kind. */
export const addrAdd = <A extends number>(addr: A, delta: number): A => (addr + delta) as A;

/** Formats a range the way errors and traces print it: `0xe0000000+0x100000`. */
export function formatRange(addr: number, len: number): string {
  return `0x${addr.toString(16)}+0x${len.toString(16)}`;
}

/** Formats an address as `0x…` hex. */
export const hex = (n: number | bigint): string => `0x${n.toString(16)}`;
