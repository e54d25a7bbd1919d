/**
 * Builds the `DeviceContext` one device plugin instance receives: handles onto its device
 * slot, each behind the instance's lifetime, the plugin's declared capabilities and the
 * checks of its arguments (checks.ts: at the trusted level nothing else checks them).
 */
import type { Machine } from '@emuhost/core';
import {
  type AccessSize,
  type BlockBackend,
  type Capability,
  type ClockHandle,
  type DeviceContext,
  EmuhostError,
  type GuestPhysAddr,
  type IoPortAddr,
  type IrqHandle,
  type Logger,
  type MemTxAttrs,
  type MmioAccessRules,
  type MmioOps,
  type MsiHandle,
  type MsiSpec,
  type MsixHandle,
  type MsixSpec,
  type MsixState,
  type NetBackend,
  type NetFrontend,
  type Options,
  type PciBarSpec,
  type PciCapabilitySpec,
  type PciHandle,
  type PlatformHandle,
  type PlatformSlot,
  type RegionHandle,
  type TimerHandle,
} from '@emuhost/sdk';
import { ArgChecks, checkRules, configRange, pluginError, toPlugin } from './checks.js';
import type { DeviceSlot, RegionEntry } from './device-slot.js';
import { dmaFacade } from './dma-facade.js';
import type { Lifetime } from './lifetime.js';
import { hostFaultFor, watchRejection } from './rejections.js';

/**
 * A region handle. A class, not a plain object: handles are identities the kernel checks on
 * the way back, and across an isolated plugin's channel only non-plain objects keep theirs.
 */
class RegionToken implements RegionHandle {
  constructor(
    readonly name: string,
    readonly size: number,
  ) {}
}

export interface InstanceInputs {
  readonly machine: Machine;
  readonly slot: DeviceSlot;
  readonly life: Lifetime;
  readonly capabilities: readonly Capability[];
  readonly options: Options;
  readonly log: Logger;
}

/** The handles of one instance, plus what the host needs to check handles passed back. */
export interface InstanceHandles {
  readonly ctx: DeviceContext;
  /** Regions this instance was given handles for. */
  readonly regionOf: WeakMap<RegionHandle, RegionEntry>;
}

export function createDeviceContext(inp: InstanceInputs): InstanceHandles {
  const { machine, slot, life, options, log } = inp;
  const caps = new Set(inp.capabilities);
  const who = { plugin: life.plugin, device: life.device };
  const arg = new ArgChecks(who);
  const need = (c: Capability, what: string) => {
    if (!caps.has(c))
      throw pluginError('E_CAPABILITY', `${what} needs the '${c}' capability in the manifest`, who);
  };
  const regionOf = new WeakMap<RegionHandle, RegionEntry>();
  const entryOf = (h: RegionHandle, what: string): RegionEntry => {
    const e = typeof h === 'object' && h !== null ? regionOf.get(h) : undefined;
    if (e === undefined)
      throw pluginError(
        'E_BAD_ARGUMENT',
        `${what}: not a region handle this device was given`,
        who,
      );
    return e;
  };

  const mmio = (
    name: string,
    size: number,
    ops: MmioOps,
    rules: MmioAccessRules = {},
  ): RegionHandle => {
    life.check('mmio');
    arg.str(name, 'mmio: name');
    arg.num(size, 'mmio: size');
    // The object itself is kept (methods may use `this`); what it holds is checked here.
    const given = arg.obj(ops, 'mmio: ops');
    arg.fn(given.read, 'mmio: ops.read');
    arg.fn(given.write, 'mmio: ops.write');
    checkRules(arg, rules);
    let e = slot.regions.get(name);
    if (e !== undefined) {
      if (e.size !== size) {
        throw pluginError(
          'E_BAD_ARGUMENT',
          `region '${name}' exists with size ${e.size}, not ${size}`,
          who,
        );
      }
      e.ops = ops;
    } else {
      const entry: RegionEntry = { region: undefined as never, size, rules, ops };
      // The kernel region calls whatever instance currently serves the slot.
      const g = slot.scope.guard;
      const at = (o: number) => `region '${name}' offset 0x${o.toString(16)}`;
      const trampoline: MmioOps = {
        read: (o: number, s: AccessSize, a: MemTxAttrs) => {
          const r = entry.ops.read(o, s, a);
          if (typeof r === 'object') watchRejection(r, g, 'mmio-read', () => at(o));
          return r;
        },
        write: (o: number, s: AccessSize, v: number | bigint, a: MemTxAttrs) => {
          const r = entry.ops.write(o, s, v, a);
          if (typeof r === 'object') watchRejection(r, g, 'mmio-write', () => at(o));
          return r;
        },
      };
      (entry as { region: unknown }).region = toPlugin(() =>
        machine.memorySystem.createMmio(`${slot.id}.${name}`, size, trampoline, rules, {
          guard: slot.scope.guard,
        }),
      );
      slot.regions.set(name, entry);
      e = entry;
    }
    const handle: RegionHandle = Object.freeze(new RegionToken(name, size));
    regionOf.set(handle, e);
    return handle;
  };

  const clock: ClockHandle = Object.freeze({
    now: () => {
      life.check('clock.now');
      return machine.clock.now;
    },
    timer: (name: string, callback: () => void): TimerHandle => {
      life.check('clock.timer');
      need('timers', 'clock.timer');
      arg.str(name, 'clock.timer: name');
      arg.fn(callback, 'clock.timer: callback');
      let t = slot.timers.get(name);
      if (t === undefined) {
        const entry = { timer: undefined as never, callback: null as (() => void) | null };
        (entry as { timer: unknown }).timer = slot.scope.createTimer(() => {
          const r: unknown = entry.callback?.();
          if (typeof r === 'object')
            watchRejection(r, slot.scope.guard, 'timer', () => `timer '${name}'`);
        }, name);
        slot.timers.set(name, entry);
        t = entry;
      }
      t.callback = callback;
      const timer = t.timer;
      return Object.freeze({
        armAt: (ns: number) => {
          life.check('timer.armAt');
          toPlugin(() => timer.armAt(arg.num(ns, 'timer.armAt: ns')));
        },
        armIn: (ns: number) => {
          life.check('timer.armIn');
          toPlugin(() => timer.armIn(arg.num(ns, 'timer.armIn: ns')));
        },
        cancel: () => {
          life.check('timer.cancel');
          timer.cancel();
        },
        get pending() {
          return timer.pending;
        },
        get deadline() {
          return timer.deadline;
        },
      });
    },
  });

  const irqHandle = (set: (l: 0 | 1) => void, get: () => 0 | 1): IrqHandle =>
    Object.freeze({
      get level() {
        return get();
      },
      set: (l: 0 | 1) => {
        life.check('irq.set');
        set(l ? 1 : 0);
      },
      raise: () => {
        life.check('irq.raise');
        set(1);
      },
      lower: () => {
        life.check('irq.lower');
        set(0);
      },
      pulse: () => {
        life.check('irq.pulse');
        set(1);
        set(0);
      },
    });

  const platformIrq = (name: string): IrqHandle => {
    let line = slot.irqLines.get(name);
    if (line === undefined) {
      line = slot.scope.createIrqLine(name);
      const p = slot.placement;
      const sink = p.kind === 'platform' ? p.irq?.(name) : undefined;
      if (sink !== undefined) line.connect(sink);
      slot.irqLines.set(name, line);
    }
    const l = line;
    return irqHandle(
      (v) => l.set(v),
      () => l.level,
    );
  };

  let pci: PciHandle | undefined;
  const fn = slot.pci;
  /** How many capabilities this instance added: the nth finds the slot's nth again on a reload. */
  let capabilitiesAdded = 0;
  if (fn !== undefined) {
    const msixHandle = (m: NonNullable<typeof slot.msix>): MsixHandle =>
      Object.freeze({
        get enabled() {
          return m.enabled;
        },
        vectors: m.vectors,
        notify: (vector: number) => {
          life.check('msix.notify');
          return m.notify(vector);
        },
        masked: (vector: number) => m.masked(vector),
        save: () => m.save(),
        restore: (st: MsixState) => {
          life.check('msix.restore');
          const isBytes = (x: unknown): x is Uint8Array =>
            Object.prototype.toString.call(x) === '[object Uint8Array]';
          if (!isBytes(st?.table) || !isBytes(st?.pba))
            throw new EmuhostError('E_BAD_ARGUMENT', 'MSI-X state needs table and pba bytes', who);
          m.restore({ table: new Uint8Array(st.table), pba: new Uint8Array(st.pba) });
        },
      });
    const addCapability = (spec: PciCapabilitySpec): number => {
      life.check('pci.addCapability');
      // The plugin's realm has its own Uint8Array: check the tag, not the constructor.
      const isBytes = (x: unknown): x is Uint8Array =>
        Object.prototype.toString.call(x) === '[object Uint8Array]';
      const raw = spec?.body;
      const body = isBytes(raw)
        ? new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)
        : undefined;
      if (body === undefined || !Number.isInteger(spec.id) || spec.id < 0 || spec.id > 0xff)
        throw new EmuhostError(
          'E_BAD_ARGUMENT',
          'addCapability needs an id (0..255) and a body (bytes)',
          who,
        );
      const size = body.length + 2;
      const n = capabilitiesAdded++;
      const had = slot.capabilities[n];
      if (had !== undefined) {
        // A reloaded instance asking again: the capability is there, with what the guest wrote.
        if (had.id !== spec.id || had.size !== size)
          throw new EmuhostError(
            'E_BAD_ARGUMENT',
            `capability ${n} exists as id 0x${had.id.toString(16)}, ${had.size} bytes`,
            who,
          );
        return had.offset;
      }
      const c = fn.config;
      const at = c.addCapability(spec.id, size, spec.offset);
      c.bytes.set(body, at + 2);
      const w = isBytes(spec.writable) ? spec.writable : undefined;
      if (w !== undefined) for (let i = 0; i < body.length; i++) c.wmask[at + 2 + i] = w[i] ?? 0;
      slot.capabilities.push({ id: spec.id, size, offset: at });
      return at;
    };
    const msiHandle = (): MsiHandle =>
      Object.freeze({
        get enabled() {
          return slot.msi?.enabled ?? false;
        },
        notify: (vector?: number) => {
          life.check('msi.notify');
          return slot.msi!.notify(arg.optNum(vector, 'msi.notify: vector') ?? 0);
        },
      });
    pci = Object.freeze({
      requesterId: fn.dma.requester.requesterId,
      bar: (index: number, specIn: PciBarSpec, region: RegionHandle) => {
        life.check('pci.bar');
        arg.num(index, 'pci.bar: index');
        const s = arg.obj(specIn, 'pci.bar: spec');
        const spec: PciBarSpec = {
          kind: arg.oneOf(s.kind, 'pci.bar: spec.kind', ['memory', 'io'] as const),
          size: arg.num(s.size, 'pci.bar: spec.size'),
          ...(s.is64 !== undefined && { is64: s.is64 === true }),
          ...(s.prefetchable !== undefined && { prefetchable: s.prefetchable === true }),
        };
        const e = entryOf(region, 'pci.bar');
        const had = slot.bars.get(index);
        if (had !== undefined) {
          if (
            had.region !== region.name ||
            had.spec.size !== spec.size ||
            had.spec.kind !== spec.kind
          ) {
            throw pluginError('E_BAD_ARGUMENT', `BAR${index} already decodes '${had.region}'`, who);
          }
          return;
        }
        toPlugin(() => fn.addBar(index, spec, e.region));
        slot.bars.set(index, { spec, region: region.name });
      },
      addMsi: (spec?: MsiSpec) => {
        life.check('pci.addMsi');
        need('msi', 'pci.addMsi');
        arg.optObj(spec, 'pci.addMsi: spec');
        slot.msi ??= toPlugin(() => fn.addMsi(spec));
        return msiHandle();
      },
      configRead: (offset: number, size: 1 | 2 | 4) => {
        life.check('pci.configRead');
        configRange(arg, offset, size, 'pci.configRead');
        return fn.configRead(offset, size);
      },
      configSet: (offset: number, size: 1 | 2 | 4, value: number) => {
        life.check('pci.configSet');
        configRange(arg, offset, size, 'pci.configSet');
        arg.num(value, 'pci.configSet: value');
        if (size === 1) fn.config.set8(offset, value);
        else if (size === 2) fn.config.set16(offset, value);
        else fn.config.set32(offset, value);
      },
      configSetWritable: (offset: number, size: 1 | 2 | 4, mask: number) => {
        life.check('pci.configSetWritable');
        configRange(arg, offset, size, 'pci.configSetWritable');
        arg.num(mask, 'pci.configSetWritable: mask');
        if (offset < 0x40 || offset + size > 0x100) {
          throw pluginError(
            'E_BAD_ARGUMENT',
            'only device-specific config space (0x40..0xff) can change its write mask',
            who,
          );
        }
        for (let i = 0; i < size; i++) fn.config.wmask[offset + i] = (mask >>> (8 * i)) & 0xff;
      },
      onConfigWrite: (cb: (offset: number, size: number, value: number) => void) => {
        life.check('pci.onConfigWrite');
        const f = arg.fn(cb, 'pci.onConfigWrite: callback');
        slot.configWriteListeners.push((o, s, v) => {
          const r: unknown = f(o, s, v);
          if (typeof r === 'object')
            watchRejection(
              r,
              slot.scope.guard,
              'config-write',
              () => `config write at 0x${o.toString(16)}`,
            );
        });
      },
      addMsix: (spec: MsixSpec) => {
        life.check('pci.addMsix');
        need('msi', 'pci.addMsix');
        // QEMU's msi_nonbroken: without an MSI controller the device goes on with INTx.
        if (!machine.msiAvailable) return undefined;
        if (slot.msix === undefined)
          slot.msix = fn.addMsix(machine.memorySystem, spec.vectors, spec.bar);
        else if (slot.msix.vectors !== spec.vectors)
          throw new EmuhostError(
            'E_BAD_ARGUMENT',
            `MSI-X exists with ${slot.msix.vectors} vectors`,
            who,
          );
        return msixHandle(slot.msix);
      },
      addCapability,
      onConfigRead: (cb: (offset: number, size: number, value: number) => number) => {
        life.check('pci.onConfigRead');
        if (typeof cb !== 'function')
          throw new EmuhostError('E_BAD_ARGUMENT', 'onConfigRead needs a function', who);
        slot.configReadListeners.push(cb);
      },
    });
  }

  let platform: PlatformHandle | undefined;
  if (slot.placement.kind === 'platform') {
    platform = Object.freeze({
      map: (region: RegionHandle, addr: GuestPhysAddr, priority = 0) => {
        life.check('platform.map');
        const e = entryOf(region, 'platform.map');
        arg.num(addr, 'platform.map: addr');
        arg.num(priority, 'platform.map: priority');
        if (e.region.parent === null)
          toPlugin(() => slot.scope.mapRegion(machine.systemMemory, e.region, addr, priority));
      },
      mapIo: (region: RegionHandle, port: IoPortAddr) => {
        life.check('platform.mapIo');
        const e = entryOf(region, 'platform.mapIo');
        arg.num(port, 'platform.mapIo: port');
        if (e.region.parent === null)
          toPlugin(() => slot.scope.mapRegion(machine.systemIo, e.region, port));
      },
      irq: (name: string) => {
        life.check('platform.irq');
        need('irq', 'platform.irq');
        return platformIrq(arg.str(name, 'platform.irq: name'));
      },
      slot: (kind: string): PlatformSlot | undefined => {
        life.check('platform.slot');
        const p = slot.placement;
        let held = slot.platformSlots.get(kind);
        if (!slot.platformSlots.has(kind) && p.kind === 'platform') {
          const got = p.slot?.(kind);
          if (got !== undefined) {
            const line = slot.scope.createIrqLine(`slot-${kind}`);
            line.connect((level) => got.irq(level));
            slot.scope.onRelease(() => got.release?.());
            held = { base: got.base, size: got.size, line };
          }
          slot.platformSlots.set(kind, held);
        }
        if (held === undefined) return undefined;
        const l = held.line;
        return Object.freeze({
          base: held.base as GuestPhysAddr,
          size: held.size,
          irq: irqHandle(
            (v) => l.set(v),
            () => l.level,
          ),
        });
      },
    });
  }

  // Not in the SDK: how the membrane reports a rejected promise of a callback (rejections.ts).
  const hostFault = hostFaultFor(slot.scope.guard, life);

  const backend = <T>(
    c: Capability,
    what: string,
    get: (b: NonNullable<typeof slot.backends>) => T,
  ): T => {
    life.check(what);
    need(c, what);
    if (slot.backends === undefined)
      throw new EmuhostError('E_UNKNOWN_ID', `${what}: this machine has no backends`, who);
    return get(slot.backends);
  };
  const block = (id: string): BlockBackend => {
    const b = backend('block', 'block', (x) => x.block(String(id), slot.id));
    return Object.freeze({
      id: b.id,
      get size() {
        return b.size;
      },
      readOnly: b.readOnly,
      discard: b.discard,
      read: (offset: number, into: Uint8Array) => {
        life.check('block.read');
        return b.read(offset, into);
      },
      write: (offset: number, data: Uint8Array) => {
        life.check('block.write');
        return b.write(offset, data);
      },
      flush: () => {
        life.check('block.flush');
        return b.flush();
      },
      discardRange: (offset: number, len: number) => {
        life.check('block.discardRange');
        return b.discardRange(offset, len);
      },
      onResize: (cb: () => void) => {
        life.check('block.onResize');
        if (typeof cb !== 'function')
          throw new EmuhostError('E_BAD_ARGUMENT', 'onResize needs a function', who);
        // The device's code, called from the monitor: under its guard, and only while current.
        b.onResize(() => {
          if (!life.revoked) slot.scope.guard.run('deferred', cb);
        });
      },
    });
  };
  const entropy = (id?: string) => {
    const e = backend('entropy', 'entropy', (x) =>
      x.entropy(id === undefined ? undefined : String(id), slot.id),
    );
    return Object.freeze({
      id: e.id,
      fill: (into: Uint8Array) => {
        life.check('entropy.fill');
        return e.fill(into);
      },
    });
  };
  const netdev = (id: string): NetBackend => {
    const n = backend('net', 'netdev', (x) => x.netdev(String(id), slot.id));
    // The NIC's code, called from the backend's delivery: under its guard, only while current.
    const guarded = <T>(fallback: T, fn: () => T): T => {
      if (life.revoked) return fallback;
      let out = fallback;
      slot.scope.guard.run('deferred', () => {
        out = fn();
      });
      return out;
    };
    return Object.freeze({
      id: n.id,
      get linkUp() {
        return n.linkUp ?? true;
      },
      send: (frame: Uint8Array) => {
        life.check('netdev.send');
        n.send(frame);
      },
      ready: () => {
        life.check('netdev.ready');
        n.ready();
      },
      connect: (f: NetFrontend) => {
        life.check('netdev.connect');
        if (typeof f?.canReceive !== 'function' || typeof f.receive !== 'function')
          throw new EmuhostError(
            'E_BAD_ARGUMENT',
            'netdev.connect needs { canReceive, receive }',
            who,
          );
        n.connect({
          canReceive: () => guarded(false, () => f.canReceive() === true),
          receive: (frame: Uint8Array) => guarded(undefined, () => f.receive(frame)),
          linkChanged: (up: boolean) => guarded(undefined, () => f.linkChanged?.(up)),
          mac: () => guarded('', () => String(f.mac?.() ?? '')),
        });
      },
    });
  };
  const chardev = (id: string) =>
    backend('chardev', 'chardev', (x) => x.chardev(String(id), slot.id));

  const dmaCtx = fn?.dma ?? slot.scope.dmaContexts[0];
  const dma =
    dmaCtx === undefined
      ? undefined
      : dmaFacade(dmaCtx, life, arg, (on) => {
          need('iommu-bypass', 'dma.bypassIommu');
          machine.dma.setBypass(dmaCtx, on);
        });
  let irq: IrqHandle | undefined;

  // A granted handle is a plain data property: plugins read `ctx.dma` on every transfer, and
  // a getter costs a call there. Only a missing capability is a getter, which throws.
  const granted = <T>(c: Capability, what: string, value: T): PropertyDescriptor =>
    caps.has(c) && value !== undefined
      ? { value, enumerable: true }
      : {
          get() {
            need(c, what);
            return value;
          },
          enumerable: true,
        };
  const ctx: DeviceContext = Object.freeze(
    Object.defineProperties(
      {
        id: slot.id,
        options,
        log,
        get irq() {
          need('irq', 'irq');
          irq ??=
            fn !== undefined
              ? irqHandle(
                  (l) => fn.setIntx(l),
                  () => fn.intxLevel,
                )
              : platformIrq('irq');
          return irq;
        },
        mmio,
        pci,
        platform,
        block,
        entropy,
        netdev,
        chardev,
      },
      {
        clock: granted('timers', 'clock', clock),
        dma: granted('dma', 'dma', dma),
        hostFault: { value: hostFault, enumerable: false },
      },
    ) as DeviceContext,
  );
  return { ctx, regionOf };
}
