/**
 * passthrough: the smallest possible IOMMU plugin, and the one to start from.
 *
 * An IOMMU plugin is a translator. The kernel does everything else: it keeps an IOTLB per
 * requester, calls `translate` only when that cache misses (or when a cached entry does not
 * permit an access), stops a transfer at the first refused page, reports faults as events
 * and results, and re-translates live mappings when models are swapped. What the plugin owes
 * the kernel is one rule: call `ctx.host.invalidate(...)` whenever a translation it gave out
 * is narrowed or removed (widening needs no call).
 *
 * This one translates every IOVA to the same guest-physical address. Options:
 * - `read_only`: DMA may read guest memory but not write it;
 * - `window_base` / `window_size`: only IOVAs inside the window translate; others fault
 *   `out-of-range`, as a device behind a bridge with a DMA window would.
 * Its translations never change, so it never needs to invalidate.
 */
import {
  definePlugin,
  type GuestPhysAddr,
  type IommuEntry,
  type IommuFault,
  iova,
} from '@emuhost/sdk';

/** The largest translation handed out: fewer, larger IOTLB entries mean fewer misses. */
const MAX_PAGE = 2 ** 30;

export default definePlugin({
  kind: 'iommu',
  options: {
    read_only: { type: 'boolean', default: false, description: 'refuse DMA writes' },
    window_base: { type: 'number', default: 0, description: 'first IOVA that translates' },
    window_size: {
      type: 'number',
      default: 2 ** 53,
      description: 'bytes from window_base that translate',
    },
  },
  create(ctx) {
    const base = ctx.options.window_base as number;
    const end = base + (ctx.options.window_size as number);
    const perm = ctx.options.read_only ? 'read' : 'read-write';
    return {
      // Required: the page containing `a`, mapped to itself, or a fault.
      translate(a): IommuEntry | IommuFault {
        if (a < base || a >= end) return { kind: 'fault', reason: 'out-of-range' };
        // The largest naturally aligned page around `a` that stays inside the window.
        let size = MAX_PAGE;
        let start = a - (a % size);
        while (size > 4096 && (start < base || start + size > end)) {
          size /= 2;
          start = a - (a % size);
        }
        return {
          kind: 'entry',
          iova: iova(start),
          translated: start as GuestPhysAddr,
          pageSize: size,
          perm,
        };
      },
      // Optional hooks, and what they default to when left out:
      //   attach(req) / detach(req): nothing (a requester starts or stops using this model);
      //   reset(): nothing (no registers); saveState(): no state; dispose(): nothing.
    };
  },
});
