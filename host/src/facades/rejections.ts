/**
 * Rejected promises of plugin callbacks: an `async` MMIO, timer or config-write handler that
 * throws after an `await` faults its device with that error and stack, as a throw would, at
 * the next microtask checkpoint. At the trusted level the kernel calls plugin code directly,
 * so the facades' trampolines watch what it returns (`watchRejection`); at the other levels
 * the membrane watches it inside the realm and reports through the context's `hostFault`.
 */
import type { DeviceGuard, GuardSite } from '@emuhost/core';
import type { Lifetime } from './lifetime.js';

/** The callbacks whose returned promises are watched. */
const ASYNC_SITES: readonly GuardSite[] = ['mmio-read', 'mmio-write', 'timer', 'config-write'];

const REJECTED = 'a promise it returned was rejected';

/**
 * Watches `r`, what a trusted plugin's callback returned. Callers check
 * `typeof r === 'object'` first, so a callback that returns a number pays one typeof.
 */
export function watchRejection(
  r: unknown,
  guard: DeviceGuard,
  site: GuardSite,
  detail: () => string,
): void {
  if (r === null) return;
  const then = (r as { then?: unknown }).then;
  if (typeof then !== 'function') return;
  then.call(r, undefined, (e: unknown) => {
    if (!guard.quarantined) guard.fault(site, e, undefined, `${detail()}: ${REJECTED}`);
  });
}

/**
 * The context's `hostFault` (not in the SDK): how the membrane reports a rejection. Strings
 * only cross, so that the host holds no realm object; a revoked instance reports nothing.
 */
export function hostFaultFor(
  guard: DeviceGuard,
  life: Lifetime,
): (site: string, name: string, message: string, stack: string, detail: string) => void {
  return (site, name, message, stack, detail) => {
    if (life.revoked || guard.quarantined || !ASYNC_SITES.includes(site as GuardSite)) return;
    const error = Object.assign(new Error(String(message)), { name: String(name) });
    error.stack = String(stack);
    guard.fault(site as GuardSite, error, undefined, String(detail));
  };
}
