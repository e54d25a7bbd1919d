/**
 * Test support: the VT-d guest driver the tests program the plugin with is @emuhost/testing's
 * (also used by the benchmark), under the names these tests use.
 */
export {
  VTD_BASE as BASE,
  VTD_REGS as R,
  VtdGuest,
  type VtdGuestOptions as GuestOptions,
  vtdWaitDescriptor as waitDescriptor,
} from '@emuhost/testing';
