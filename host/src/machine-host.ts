/**
 * Building a machine from a machine plugin: the `MachineContext` facade over a fresh kernel
 * machine. Region handles map to kernel regions (checked on the way back in); `pciHost`
 * makes a root bus with configuration mechanism #1; chipset functions the machine implements
 * itself are PCI functions with config hooks, owned by the machine.
 */
import {
  attachConfigMechanism1,
  createEcam,
  createMachine,
  ECAM_BUS_SIZE,
  type Machine,
  type MemoryRegion,
  MsiSink,
  PciBus,
} from '@emuhost/core';
import {
  type CharBackend,
  type ClockHandle,
  type ContainerHandle,
  type CpuHandle,
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
  type TimerHandle,
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
  /** Firmware and boot images for the machine to map (`ctx.firmware`); default none. */
  readonly firmware?: Partial<MachineFirmware>;
  /** CPUs asked for (`-smp`). Default 1. */
  readonly smp?: number;
  /** Makes the machine's CPU `index` (`ctx.cpu`); undefined: the machine can have none. */
  readonly makeCpu?: (
    machine: Machine,
    index: number,
    props: Readonly<Record<string, OptionValue>>,
  ) => CpuHandle;
  /** Serial port backends (`ctx.serial`). */
  readonly serial?: (index: number) => CharBackend | undefined;
  /** What `ctx.requestShutdown` asks for. */
  readonly requestShutdown?: (kind: 'poweroff' | 'reboot', exitCode: number) => void;
  /** How CPUs are scheduled (deterministic by default). */
  readonly scheduler?: import('@emuhost/core').SchedulerOptions;
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
  const machine = createMachine({
    name: id,
    ...(opts.scheduler !== undefined && { cpus: opts.scheduler }),
  });
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
  const smp = opts.smp ?? 1;
  const cpusMade = new Set<number>();
  const log = createLogger(sink, id);

  const addFunctionTo =
    (bus: PciBus) =>
    (
      devfn: number,
      fnId: string,
      identity: PciIdentity,
    ): ReturnType<PciBusHandle['addFunction']> => {
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
    };
  /** A PCI Express root bus configured through an ECAM window (`spec.ecam`). */
  const ecamHost = (spec: PciHostSpec): PciBusHandle => {
    const { base, size } = spec.ecam!;
    if (
      !Number.isSafeInteger(size) ||
      size <= 0 ||
      size % ECAM_BUS_SIZE !== 0 ||
      size > 256 * ECAM_BUS_SIZE
    )
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `an ECAM window is 1 to 256 buses of 1 MiB, not ${size} bytes`,
        who,
      );
    if (machine.pciBuses.has(spec.name))
      throw new EmuhostError('E_DUPLICATE_ID', `a PCI bus named '${spec.name}' exists`, who);
    const bus = new PciBus(spec.name, {
      memory: region(spec.memory, 'pciHost memory'),
      io: region(spec.io, 'pciHost io'),
      dma: machine.dma,
      firstSlot: spec.firstSlot,
      setIrq: (line, level) => spec.setIrq(line, level),
    });
    machine.pciBuses.set(spec.name, bus);
    const ecam = createEcam(ms, `${spec.name}-ecam`, size, (n) =>
      n === bus.number ? bus : undefined,
    );
    machine.systemMemory.addSubregion(ecam, base);
    return Object.freeze({ name: spec.name, addFunction: addFunctionTo(bus) });
  };

  const ctx: MachineContext = Object.freeze({
    ramSize: opts.ramSize,
    options,
    log,
    // Copies: the plugin may keep them, and the caller's buffers stay the caller's.
    firmware: Object.freeze({
      ...(opts.firmware?.bios !== undefined && { bios: opts.firmware.bios.slice() }),
      pflash: Object.freeze((opts.firmware?.pflash ?? []).map((b) => b.slice())),
      ...(opts.firmware?.kernel !== undefined && { kernel: opts.firmware.kernel.slice() }),
      ...(opts.firmware?.initrd !== undefined && { initrd: opts.firmware.initrd.slice() }),
      ...(opts.firmware?.cmdline !== undefined && { cmdline: opts.firmware.cmdline }),
      ...(opts.firmware?.dtb !== undefined && { dtb: opts.firmware.dtb.slice() }),
    }),
    smp,
    cpu: (index: number, props: Readonly<Record<string, OptionValue>> = {}) => {
      if (!Number.isInteger(index) || index < 0 || index >= smp)
        throw new EmuhostError(
          'E_BAD_ARGUMENT',
          `CPU index ${index} is outside the ${smp} CPU(s) asked for (-smp)`,
          who,
        );
      if (cpusMade.has(index))
        throw new EmuhostError('E_DUPLICATE_ID', `CPU ${index} was already made`, who);
      if (opts.makeCpu === undefined)
        throw new EmuhostError('E_UNKNOWN_ID', 'no CPU model was given for this machine', who);
      const h = opts.makeCpu(machine, index, props);
      cpusMade.add(index);
      return h;
    },
    clock: machineClock(machine),
    load: (addr: GuestPhysAddr, bytes: Uint8Array) => machine.memory.loadImage(addr, bytes),
    serial: (index: number) => opts.serial?.(index),
    requestShutdown: (kind: 'poweroff' | 'reboot', exitCode = 0) => {
      if (kind !== 'poweroff' && kind !== 'reboot')
        throw new EmuhostError('E_BAD_ARGUMENT', `shutdown kind must be poweroff or reboot`, who);
      opts.requestShutdown?.(kind, exitCode);
    },
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
      if (spec.ecam !== undefined) return ecamHost(spec);
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
      return Object.freeze({ name: spec.name, addFunction: addFunctionTo(bus) });
    },
    msiWindow: (addr: GuestPhysAddr) => {
      msi = new MsiSink(ms, 'msi', addr);
      machine.systemMemory.addSubregion(msi.region, addr);
      machine.msiAvailable = true;
    },
  });
  const model = ms.transaction(() => plugin.realm.createMachine(ctx));
  return { machine, model, msi };
}

/**
 * The clock of devices a machine builds itself: timers without a device guard (the machine is
 * trusted code), named so that traces say whose they are.
 */
function machineClock(machine: Machine): ClockHandle {
  const timers = new Map<string, TimerHandle>();
  return Object.freeze({
    now: () => machine.clock.now,
    timer: (name: string, callback: () => void): TimerHandle => {
      if (timers.has(name))
        throw new EmuhostError('E_DUPLICATE_ID', `the machine already has a timer '${name}'`);
      const t = machine.clock.createTimer(callback, { name });
      const h: TimerHandle = Object.freeze({
        armAt: (ns: number) => t.armAt(ns),
        armIn: (ns: number) => t.armIn(ns),
        cancel: () => t.cancel(),
        get pending() {
          return t.pending;
        },
        get deadline() {
          return t.deadline;
        },
      });
      timers.set(name, h);
      return h;
    },
  });
}
