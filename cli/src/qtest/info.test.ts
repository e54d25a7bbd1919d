/**
 * `info iommu` with a model that describes itself (`IommuInstance.info`): its lines follow the
 * kernel's view of that IOMMU, indented under it. The RISC-V IOMMU, fresh from reset, says
 * it is Off with its queues off; a device context it cached shows once it translated.
 */
import { bareMachine, Emulator, loadBundled, PluginHost } from '@emuhost/host';
import { type DmaError, iova } from '@emuhost/sdk';
import { describe, expect, it } from 'vitest';
import { infoView } from './info.js';

describe('info iommu', () => {
  it('shows the model’s own lines under its IOMMU', async () => {
    const emu = new Emulator({ machine: bareMachine(), ramSize: 16 << 20, log: () => {} });
    emu.addIommu(await loadBundled(new PluginHost(), 'riscv-iommu'), { id: 'riv0' });
    emu.machine.dma.bind({ bus: 'pci.0' }, 'riv0');
    const ctx = emu.machine.dma.createContext({ device: 'dev', bus: 'pci.0', requesterId: 8 });
    expect((ctx.readU32LE(iova(0)) as DmaError).result).toBe('iommu-fault');
    const text = infoView(emu, 'iommu')!;
    expect(text).toContain('  IOMMU riv0: 1 translations, 1 fault\n    ddtp: Off\n');
    expect(text).toContain('    command queue: off (csr 0x0)');
  });
});
