/**
 * The kernel services a device scope draws on: the subset of a machine that devices may
 * touch, named so that scopes and buses do not depend on the whole machine.
 */
import type { VirtualClock } from '../clock/virtual-clock.js';
import type { DmaRegistry } from '../dma/registry.js';
import type { KernelHooks } from '../hooks.js';
import type { MemorySystem } from '../memory/memory-system.js';

export interface KernelServices {
  readonly hooks: KernelHooks;
  readonly memorySystem: MemorySystem;
  readonly clock: VirtualClock;
  readonly dma: DmaRegistry;
}
