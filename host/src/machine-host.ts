/**
 * Building a machine from a machine plugin: the `MachineContext` facade over a fresh kernel
 * machine. Region handles map to kernel regions (checked on the way back in); `pciHost`
 * makes a root bus with configuration mechanism #1; chipset functions the machine implements
 * itself are PCI functions with config hooks, owned by the machine.
 */
import {
  attachConfigMechanism1,
  createMachine,
  type Machine,
  type MemoryRegion,
  MsiSink,
  PciBus,
} from '@emuhost/core';
import {
  type ContainerHandle,
  EmuhostError,
  type GuestPhysAddr,
  type InterruptControllerHandle,
  type MachineContext,
  type MachineFirmware,
  type MachineModel,
  type MmioAccessRules,
  type MmioOps,
  type OptionValue,
  type PciBusHandle,
  type PciHostSpec,
  type PciIdentity,
  type RegionHandle,
} from '@emuhost/sdk';
import { createDeviceContext } from './facades/device-context.js';
import { DeviceSlot } from './facades/device-slot.js';
import { Lifetime } from './facades/lifetime.js';
import type { LoadedPlugin } from './loaded-plugin.js';
import { createLogger, type LogSink, stderrSink } from './log.js';
import { resolveOptions } from './options.js';

export interface BuildMachineOptions {
  /** RAM size in bytes (`-m`). */
  readonly ramSize: number;
  readonly options?: Readonly<Record<string, OptionValue>>;
  readonly log?: LogSink;
  /** Firmware images for the machine to map (`ctx.firmware`); default none. */
  readonly firmware?: Partial<MachineFirmware>;
}

export interface BuiltMachine {
  readonly machine: Machine;
  readonly model: MachineModel;
  /** Where MSI writes land, when the machine made a window. */
  readonly msi: MsiSink | undefined;
}

const ALL_CAPS = ['dma', 'irq', 'msi', 'timers', 'pci', 'platform'] as const;

export function buildMachine(plugin: LoadedPlugin, opts: BuildMachineOptions): BuiltMachine {
  const def = plugin.definition;
  const id = plugin.manifest.id;
  if (def.kind !== 'machine')
    throw new EmuhostError('E_BAD_ARGUMENT', `'${id}' is a ${def.kind} plugin, not a machine`, {
      plugin: id,
    });
  const options = resolveOptions(def.options, opts.options ?? {}, { plugin: id });
  const sink = opts.log ?? stderrSink;
  const machine = createMachine({ name: id });
  const ms = machine.memorySystem;
  const regions = new WeakMap<RegionHandle, MemoryRegion>();
  const who = { plugin: id };
  const handle = <H extends RegionHandle>(r: MemoryRegion, extra: object = {}): H => {
    const h = Object.freeze({ name: r.name, size: r.size, ...extra }) as H;
    regions.set(h, r);
    return h;
  };
  const region = (h: RegionHandle, what: string): MemoryRegion => {
    const r = regions.get(h);
    if (r === undefined)
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `${what}: not a region handle this machine made`,
        who,
      );
    return r;
  };
  let msi: MsiSink | undefined;
  let configMechanism = false;
  const log = createLogger(sink, id);

  const ctx: MachineContext = Object.freeze({
    ramSize: opts.ramSize,
    options,
    log,
    // Copies: the plugin may keep them, and the caller's buffers stay the caller's.
    firmware: Object.freeze({
      ...(opts.firmware?.bios !== undefined && { bios: opts.firmware.bios.slice() }),
      pflash: Object.freeze((opts.firmware?.pflash ?? []).map((b) => b.slice())),
    }),
    system: handle<ContainerHandle>(machine.systemMemory, { container: true }),
    io: handle<ContainerHandle>(machine.systemIo, { container: true }),
    ram: (name: string, size: number) => handle(ms.createRam(name, size)),
    rom: (name: string, contents: Uint8Array) => handle(ms.createRom(name, contents)),
    alias: (name: string, target: RegionHandle, offset: number, size: number) =>
      handle(ms.createAlias(name, region(target, 'alias'), offset, size)),
    container: (name: string, size: number) =>
      handle<ContainerHandle>(ms.createContainer(name, size), { container: true }),
    mmio: (name: string, size: number, ops: MmioOps, rules?: MmioAccessRules) =>
      handle(ms.createMmio(name, size, ops, rules)),
    unassigned: (name: string, size: number) => handle(ms.createUnassigned(name, size)),
    place: (parent: ContainerHandle, r: RegionHandle, offset: number, priority?: number) =>
      region(parent, 'place').addSubregion(
        region(r, 'place'),
        offset,
        priority === undefined ? {} : { priority },
      ),
    setEnabled: (r: RegionHandle, enabled: boolean) => region(r, 'setEnabled').setEnabled(enabled),
    setDecodes: (r: RegionHandle, d: 'read-write' | 'read' | 'write') =>
      region(r, 'setDecodes').setDecodes(d),
    transaction: (fn: () => void) => ms.transaction(fn),
    interruptController: (name: string, inputs: number): InterruptControllerHandle => {
      const ic = machine.addInterruptController(name, inputs);
      return Object.freeze({
        name,
        setInput: (n: number, level: 0 | 1) => ic.setInput(n, level),
        level: (n: number) => (ic.levels[n] ? 1 : 0) as 0 | 1,
      });
    },
    pciHost: (spec: PciHostSpec): PciBusHandle => {
      if (configMechanism)
        throw new EmuhostError(
          'E_DUPLICATE_ID',
          'this machine already has a PCI host bridge at 0xcf8',
          who,
        );
      const bus = new PciBus(spec.name, {
        memory: region(spec.memory, 'pciHost memory'),
        io: region(spec.io, 'pciHost io'),
        dma: machine.dma,
        firstSlot: spec.firstSlot,
        setIrq: (line, level) => spec.setIrq(line, level),
      });
      machine.pciBuses.set(spec.name, bus);
      attachConfigMechanism1(ms, machine.systemIo, (n) => (n === bus.number ? bus : undefined));
      configMechanism = true;
      return Object.freeze({
        name: spec.name,
        addFunction: (devfn: number, fnId: string, identity: PciIdentity) => {
          let pci: ReturnType<typeof createDeviceContext>['ctx']['pci'];
          machine.attachDevice(fnId, (scope) => {
            const slot = new DeviceSlot(fnId, scope, { kind: 'pci', bus, devfn });
            const fn = scope.attachPci(bus, devfn, identity);
            slot.attachPci(fn);
            const { ctx: dctx } = createDeviceContext({
              machine,
              slot,
              life: new Lifetime(id, fnId),
              capabilities: ALL_CAPS,
              options: {},
              log: createLogger(sink, `${id}:${fnId}`),
            });
            pci = dctx.pci;
            return {};
          });
          return pci!;
        },
      });
    },
    msiWindow: (addr: GuestPhysAddr) => {
      msi = new MsiSink(ms, 'msi', addr);
      machine.systemMemory.addSubregion(msi.region, addr);
    },
  });
  const model = ms.transaction(() => plugin.realm.createMachine(ctx));
  return { machine, model, msi };
}
