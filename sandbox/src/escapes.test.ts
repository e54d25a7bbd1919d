/**
 * An escape catalogue for the confined level: each test is one technique a hostile plugin
 * could use to get out of its SES compartment, and asserts the precise safe outcome.
 *
 * How an escape is decided. The canonical proof is the host realm's `Function`: plugin code
 * (the KIT below, prepended to every bundle) takes `x.constructor.constructor` of whatever it
 * was handed and asks it for `typeof process`. In the locked realm that constructor is SES's
 * inert `Function.prototype.constructor`, so the safe outcome of a probe is exactly
 * `threw:TypeError`. When it is the host's `Function`, the probe gets `'object'`, and it also
 * pushes its label onto the HOST's `globalThis.__emuhostEscaped`, which the test reads
 * directly: a plugin that escaped cannot lie its way past that.
 *
 * How results reach the test (never by handing the plugin a host object): the device's log
 * lines (the Emulator's log sink), guest memory written by `ctx.dma.write`, MMIO registers
 * read by the driver, and messages of errors the load or realize throws. Positive controls
 * show each channel is live; the trusted level (not a security boundary) runs the same probe
 * and does reach `process`, so the probe would catch a real escape.
 *
 * Real escapes this catalogue found are marked `// ESCAPE FOUND:` with the repro: 13 of
 * them, all from host code reading plugin values (a Proxy trap or getter given a host-made
 * argument list). They were closed by making the realm's membrane the only code that
 * touches plugin values (the host gets data-only descriptions, sanitized results and
 * realm-made errors), and each is now a plain test asserting the safe behaviour. A new
 * escape goes in as `it.fails` with the same marker until it is fixed.
 */
import { bareMachine, Emulator, type LoadedPlugin, PluginHost } from '@emuhost/host';
import type { GuestPhysAddr, Iova, SavedState } from '@emuhost/sdk';
import { createDriver, type Driver, type PciDeviceRef } from '@emuhost/testing';
import { afterEach, describe, expect, it } from 'vitest';

// ---- the harness ------------------------------------------------------------------------

/** The safe outcome of a probe: SES's inert Function constructor refused to run. */
const SAFE = 'threw:TypeError';
const MARK = '__emuhostEscaped';
const VENDOR = 0x1234;
const DEVICE = 0x5a00;

/** A PCI identity for a device plugin's definition, as plugin source text. */
const pci = (deviceId = DEVICE) =>
  `kind: 'device', pci: { vendorId: ${VENDOR}, deviceId: ${deviceId}, classCode: 0xff0000 }`;
const PCI = pci();

/**
 * Prepended to every bundle. `probe` is the canonical escape proof, `check`/`checkTree`
 * record probes, `note` records a plain observation (keys starting with '='), `attempt`
 * records what a call returned or threw, `argTrap` is a Proxy function whose apply trap
 * probes the argument list it is given, `checkArgs` probes a Proxy trap's arguments (not
 * re-entered when a probe runs the same trap), `report` is the '@@{json}@@' the test
 * parses, and `regs` makes BAR0 (4 KiB of MMIO) whose writes call `write`. Intrinsics are
 * captured first, so tests that shadow the compartment's globals do not break the kit.
 */
const KIT = `
const S = String, J = JSON, RF = Reflect, Px = Proxy;
const R = {};
const note = (k, v) => { R[k] = v; return v; };
const report = () => '@@' + J.stringify(R) + '@@';
const probe = (label, x) => {
  let F;
  try { F = x.constructor.constructor; } catch (e) { return 'no-constructor:' + e.name; }
  if (typeof F !== 'function') return 'no-constructor';
  let seen;
  try { seen = F('return typeof process')(); } catch (e) { return 'threw:' + e.name; }
  if (seen !== 'object') return 'typeof process=' + seen;
  try { F('l', '(globalThis.${MARK} ??= []).push(l)')(label); } catch (e) {}
  return 'process';
};
const check = (label, x) => note(label, probe(label, x));
const checkTree = (label, x) => {
  check(label, x);
  if (x === null || (typeof x !== 'object' && typeof x !== 'function')) return;
  for (const k of RF.ownKeys(x)) {
    const d = RF.getOwnPropertyDescriptor(x, k);
    const name = label + '.' + S(k);
    if ('value' in d) { if (d.value !== undefined && d.value !== null) check(name, d.value); }
    else { if (d.get) check(name + '<get>', d.get); if (d.set) check(name + '<set>', d.set); }
  }
};
const attempt = (label, f) => {
  try {
    const v = f();
    return note(label, 'ok:' + (typeof v === 'symbol' ? v.toString() : S(v)));
  } catch (e) {
    return note(label, 'threw:' + (e !== null && typeof e === 'object' ? e.name + ': ' + e.message : typeof e));
  }
};
const argTrap = (label, ret) => new Px(function () {}, {
  apply(_t, _self, args) { check(label, args); return ret(); },
});
let busy = false;
const checkArgs = (label, xs) => {
  if (busy) return;
  busy = true;
  try {
    for (let i = 0; i < xs.length; i++)
      if (xs[i] !== null && (typeof xs[i] === 'object' || typeof xs[i] === 'function')) check(label + '[' + i + ']', xs[i]);
  } finally { busy = false; }
};
const regs = (ctx, write, read) => {
  const r = ctx.mmio('regs', 0x1000, {
    read: read || (() => 0),
    write: (o, s, v, a) => { write(o, s, v, a); },
  });
  ctx.pci.bar(0, { kind: 'memory', size: 0x1000 }, r);
  return r;
};
`;

type Outcomes = Record<string, string>;
interface Line {
  readonly source: string;
  readonly message: string;
}

const manifest = (id: string, capabilities: string[], kind = 'device') => ({
  id,
  version: '1.0.0',
  kind,
  sdk: '^1.0.0',
  entry: `./${id}.js`,
  capabilities,
});

/** Every `@@{...}@@` report in `text`, merged in order. */
function reportsIn(text: string): Outcomes | undefined {
  let out: Outcomes | undefined;
  for (const m of text.matchAll(/@@(\{.*?\})@@/gs)) out = { ...out, ...JSON.parse(m[1]!) };
  return out;
}

/** The plugin's merged reports from the log lines of sources starting with `source`. */
function logged(lines: readonly Line[], source = ''): Outcomes | undefined {
  return reportsIn(
    lines
      .filter((l) => l.source.startsWith(source))
      .map((l) => l.message)
      .join('\n'),
  );
}

/** Like `logged`, but a missing report fails the test: a dead channel must not pass. */
function mustLog(lines: readonly Line[], source = ''): Outcomes {
  const o = logged(lines, source);
  if (o === undefined) throw new Error(`no report from '${source}' reached the test`);
  return o;
}

/** Probes whose outcome is not the safe one (observations, keys starting with '=', aside). */
const unsafe = (o: Outcomes) =>
  Object.entries(o).filter(([k, v]) => !k.startsWith('=') && v !== SAFE);

/** What plugins pushed onto the host's globalThis (the escape proof); cleared on read. */
function hostEscapes(): string[] {
  const g = globalThis as Record<string, unknown>;
  const v = g[MARK];
  delete g[MARK];
  return Array.isArray(v) ? v.map(String) : [];
}

afterEach(() => {
  hostEscapes();
});

/** The message of whatever `f` throws ('' when it does not throw). */
function thrown(f: () => unknown): string {
  try {
    f();
    return '';
  } catch (e) {
    return String((e as { message?: unknown })?.message ?? e);
  }
}

interface LoadOpts {
  readonly caps?: string[];
  readonly kind?: string;
  readonly level?: 'trusted' | 'confined';
  readonly host?: PluginHost;
  /** Without the KIT (the bundle is exactly `body`). */
  readonly raw?: boolean;
}

function load(id: string, body: string, o: LoadOpts = {}): LoadedPlugin {
  return (o.host ?? new PluginHost()).loadCode(
    manifest(id, o.caps ?? ['pci', 'dma'], o.kind),
    o.raw === true ? body : KIT + body,
    { level: o.level ?? 'confined' },
  );
}

interface Rig {
  readonly emu: Emulator;
  readonly d: Driver;
  readonly lines: Line[];
  /** BAR0's address, -1 without one. */
  readonly bar: number;
  readonly dev: PciDeviceRef | undefined;
}

function emulator(lines: Line[], ramSize = 1 << 20): Emulator {
  return new Emulator({
    machine: bareMachine(),
    ramSize,
    log: (_level, source, message) => void lines.push({ source, message }),
  });
}

/** Enables the device (IO|MEMORY|MASTER) after mapping its BAR0; returns BAR0's address. */
function enable(dev: PciDeviceRef): number {
  const addr = dev.iomap(0).addr;
  dev.enable();
  return addr;
}

/** Places a device plugin on a bare machine and enables it, as a guest driver would. */
function place(
  plugin: LoadedPlugin,
  o: { state?: SavedState; ramSize?: number; deviceId?: number } = {},
): Rig {
  const lines: Line[] = [];
  const emu = emulator(lines, o.ramSize);
  emu.addDevice(plugin, o.state === undefined ? {} : { state: o.state });
  const d = createDriver(emu);
  const dev = d.pciFind(VENDOR, o.deviceId ?? DEVICE);
  return { emu, d, lines, dev, bar: dev === undefined ? -1 : enable(dev) };
}

const gpa = (n: number) => n as GuestPhysAddr;
const iova = (n: number) => n as Iova;

// ---- constructor.constructor from every handle ------------------------------------------

/** Probes the device context and every handle and method it leads to. */
const HANDLES = `module.exports.default = {
  ${PCI},
  options: {
    mode: { type: 'string', default: 'fast', description: 'm' },
    depth: { type: 'number', default: 3, description: 'd' },
  },
  create(ctx) {
    const region = regs(ctx, () => {});
    const timer = ctx.clock.timer('tick', () => {});
    const msi = ctx.pci.addMsi({ vectors: 1 });
    const handles = {
      ctx, 'ctx.options': ctx.options, 'ctx.log': ctx.log, 'ctx.clock': ctx.clock, timer,
      'ctx.dma': ctx.dma, 'ctx.irq': ctx.irq, 'ctx.pci': ctx.pci, msi, region,
    };
    for (const k of Object.keys(handles)) checkTree(k, handles[k]);
    check('ctx.clock.now()', ctx.clock.now());
    check('ctx.pci.configRead()', ctx.pci.configRead(0, 4));
    check('timer.deadline', timer.deadline);
    ctx.log.info(report());
    return {};
  },
};`;
const HANDLE_CAPS = ['pci', 'dma', 'irq', 'msi', 'timers'];

describe('constructor.constructor from every handle the SDK hands out', () => {
  it('the device context and every handle, method and getter reachable from it', () => {
    const { lines } = place(load('esc-handles', HANDLES, { caps: HANDLE_CAPS }));
    const o = mustLog(lines);
    expect(Object.keys(o)).toEqual(
      expect.arrayContaining([
        'ctx',
        'ctx.id',
        'ctx.mmio',
        'ctx.clock',
        'ctx.dma',
        'ctx.irq<get>',
        'ctx.options',
        'ctx.options.mode',
        'ctx.log.info',
        'ctx.clock.timer',
        'timer.armIn',
        'timer.pending<get>',
        'ctx.dma.read',
        'ctx.dma.map',
        'ctx.dma.adoptMappings',
        'ctx.dma.readSg',
        'ctx.dma.writeU64BE',
        'ctx.irq.raise',
        'ctx.irq.level<get>',
        'ctx.pci.bar',
        'ctx.pci.addMsi',
        'ctx.pci.onConfigWrite',
        'ctx.pci.requesterId',
        'msi.notify',
        'msi.enabled<get>',
        'region',
        'region.name',
      ]),
    );
    expect(Object.keys(o).length).toBeGreaterThan(60);
    expect(unsafe(o)).toEqual([]);
    expect(hostEscapes()).toEqual([]);
  });

  it('positive control: the same probe at the trusted level reaches the host process', () => {
    // The trusted level hands plugins the host's own handles (documented as no boundary):
    // the probe, the log channel and the host mark all see it.
    const { lines } = place(load('esc-trusted', HANDLES, { caps: HANDLE_CAPS, level: 'trusted' }));
    const o = mustLog(lines);
    expect(o.ctx).toBe('process');
    expect(o['ctx.dma.read']).toBe('process');
    expect(o['ctx.pci']).toBe('process');
    expect(hostEscapes()).toEqual(expect.arrayContaining(['ctx', 'ctx.dma.read', 'msi']));
  });

  it('DMA results: DmaErrors, loads, a map() mapping, its bytes and buffer, sg results (reported through guest memory)', () => {
    const plugin = load(
      'esc-dma',
      `module.exports.default = { ${PCI}, create(ctx) {
        let nonce = 0;
        const put = (addr, s) => {
          const b = new Uint8Array(4 + s.length);
          b[0] = s.length & 0xff; b[1] = (s.length >> 8) & 0xff; b[2] = (s.length >> 16) & 0xff;
          for (let i = 0; i < s.length; i++) b[4 + i] = s.charCodeAt(i) & 0x7f;
          return ctx.dma.write(addr, b);
        };
        regs(ctx, (o, s, v) => {
          if (o === 4) { nonce = v; return; }
          if (o !== 0) return;
          note('=nonce', S(nonce));
          checkTree('dmaError', ctx.dma.read(0x7ff00000, new Uint8Array(4)));
          checkTree('loadError', ctx.dma.readU32LE(0x7ff00000));
          checkTree('storeError', ctx.dma.writeU64LE(0x7ff00000, 1n));
          check('readU64LE()', ctx.dma.readU64LE(0x1000));
          check('write()', ctx.dma.write(0x1000, new Uint8Array(1)));
          const m = ctx.dma.map(0x1000, 16, 'write');
          checkTree('mapping', m);
          checkTree('mapping.bytes', m.bytes);
          checkTree('mapping.bytes.buffer', m.bytes.buffer);
          note('=mapping.bytes.buffer is a realm ArrayBuffer',
            S(RF.getPrototypeOf(m.bytes.buffer) === ArrayBuffer.prototype));
          m.bytes[0] = 0x5a;
          attempt('=mapping.release()', () => J.stringify(m.release(1)));
          try { m.release(0); } catch (e) { checkTree('release error', e); }
          checkTree('mapError', ctx.dma.map(0x7ff00000, 16, 'read'));
          const sg = ctx.dma.readSg([{ addr: 0x1000, len: 2 }, { addr: 0x7ff00000, len: 2 }], new Uint8Array(4));
          checkTree('sgResult', sg);
          checkTree('sgResult.result', sg.result);
          check('canAccess()', ctx.dma.canAccess(0x1000, 4, 'read'));
          put(0x8000, report());
        });
        return {};
      } };`,
    );
    const { d, bar } = place(plugin);
    const nonce = 0x5eed1234;
    d.writel(bar + 4, nonce);
    d.writel(bar, 1);
    const len = d.readl(0x8000) & 0xffffff;
    const o = reportsIn(String.fromCharCode(...d.memread(0x8004, len)));
    // Positive control: the channel is live and carries this run's nonce.
    expect(o?.['=nonce']).toBe(String(nonce));
    // Not a security matter (reported): the membrane calls the kernel mapping's `release`
    // unbound, so it throws; whatever it does, it is a realm error.
    expect(o?.['=mapping.release()']).toMatch(/^(ok:"ok"|threw:EmuhostError: )/);
    expect(o?.['=mapping.bytes.buffer is a realm ArrayBuffer']).toBe('true');
    expect(Object.keys(o ?? {})).toEqual(
      expect.arrayContaining([
        'dmaError',
        'dmaError.result',
        'loadError.addr',
        'mapping.release',
        'mapping.valid<get>',
        'mapping.bytes.0',
        'mapping.bytes.buffer',
        'mapError.result',
        'sgResult.result.completed',
      ]),
    );
    expect(unsafe(o ?? {})).toEqual([]);
    expect(hostEscapes()).toEqual([]);
  });

  it('require, module, exports, every export of the SDK runtime and what it makes', () => {
    const plugin = load(
      'esc-sdk',
      `const sdk = require('@emuhost/sdk');
      checkTree('require', require);
      checkTree('module', module);
      checkTree('exports', exports);
      checkTree('sdk', sdk);
      for (const k of Object.keys(sdk)) checkTree('sdk.' + k, sdk[k]);
      note('=sdk frozen', S(Object.isFrozen(sdk)));
      checkTree('new EmuhostError()', new sdk.EmuhostError('E_BAD_ARGUMENT', 'x'));
      const def = sdk.definePlugin({ ${PCI}, create(ctx) { regs(ctx, () => {}); ctx.log.info(report()); return {}; } });
      checkTree('definePlugin()', def);
      module.exports.default = def;`,
    );
    const o = mustLog(place(plugin).lines);
    expect(o['=sdk frozen']).toBe('true');
    expect(Object.keys(o)).toEqual(
      expect.arrayContaining([
        'require',
        'module.exports',
        'sdk.definePlugin',
        'sdk.EmuhostError',
        'sdk.EmuhostError.prototype',
        'sdk.iova',
        'new EmuhostError().code',
        'definePlugin().create',
      ]),
    );
    expect(unsafe(o)).toEqual([]);
    expect(hostEscapes()).toEqual([]);
  });

  it('arguments the host passes to callbacks: MMIO attrs, valid.accepts, timer and config-write listeners (MMIO register channel)', () => {
    const plugin = load(
      'esc-callbacks',
      `module.exports.default = { ${PCI}, create(ctx) {
        const t = ctx.clock.timer('tick', function () {
          check('timer.arguments', arguments);
          note('=timer.argc', S(arguments.length));
          note('=timer.this', S(this));
          ctx.log.info(report());
        });
        ctx.pci.configSetWritable(0x40, 4, 0xffffffff);
        ctx.pci.onConfigWrite(function (o, s, v) {
          if (o !== 0x40) return;
          check('config.arguments', arguments);
          note('=config.args', typeof o + ',' + typeof s + ',' + typeof v);
          note('=config.this', S(this));
        });
        const r = ctx.mmio('regs', 0x1000, {
          read: function (o, s, attrs) {
            checkTree('read.attrs', attrs);
            check('read.arguments', arguments);
            note('=read.this', S(this));
            if (o === 8) return Object.keys(R).filter((k) => R[k] === 'threw:TypeError').length;
            return 0x600d;
          },
          write: function (o, s, v, attrs) {
            checkTree('write.attrs', attrs);
            check('write.arguments', arguments);
            note('=write.this', S(this));
            note('=write.value', typeof v);
            t.armIn(10);
          },
        }, { valid: { min: 4, max: 4, accepts: function (o, s, w) { check('accepts.arguments', arguments); return true; } } });
        ctx.pci.bar(0, { kind: 'memory', size: 0x1000 }, r);
        return {};
      } };`,
      { caps: ['pci', 'timers'] },
    );
    const { d, bar, dev, lines } = place(plugin);
    // Positive control of the MMIO channel: the read callback ran and its value came back.
    expect(d.readl(bar)).toBe(0x600d);
    d.writel(bar + 4, 7);
    dev!.configWrite(0x40, 4, 0x12345678);
    d.clockStep(100);
    const safeCount = d.readl(bar + 8);
    const o = mustLog(lines);
    expect(Object.keys(o)).toEqual(
      expect.arrayContaining([
        'read.attrs',
        'read.attrs.unspecified',
        'read.arguments',
        'write.attrs',
        'write.arguments',
        'accepts.arguments',
        'config.arguments',
        'timer.arguments',
      ]),
    );
    expect(o['=timer.argc']).toBe('0');
    // MMIO callbacks are called as methods of the plugin's own ops object (realm code does
    // the call); timer and config listeners as plain functions.
    expect([o['=timer.this'], o['=read.this'], o['=write.this'], o['=config.this']]).toEqual([
      'undefined',
      '[object Object]',
      '[object Object]',
      'undefined',
    ]);
    expect(o['=config.args']).toBe('number,number,number');
    expect(o['=write.value']).toBe('number');
    expect(unsafe(o)).toEqual([]);
    // The register and the log agree on how many probes came back safe.
    expect(safeCount).toBeGreaterThanOrEqual(Object.values(o).filter((v) => v === SAFE).length);
    expect(hostEscapes()).toEqual([]);
  });

  it("the IOMMU context, its host and memory, translate and attach requests, and a device's onInvalidate mapping", () => {
    const host = new PluginHost();
    const mmu = load(
      'esc-mmu',
      `module.exports.default = { kind: 'iommu', create(ctx) {
        for (const k of ['host', 'memory', 'log', 'clock', 'platform', 'options']) checkTree('ictx.' + k, ctx[k]);
        checkTree('ictx', ctx);
        checkTree('ictx.region', ctx.mmio('regs', 0x100, { read: () => 0, write: () => {} }));
        checkTree('ictx.memory error', ctx.memory.readU32LE(0x7ff00000));
        const timer = ctx.clock.timer('inv', () => {
          ctx.host.invalidate();
          note('=invalidated', 'yes');
          ctx.log.info(report());
        });
        checkTree('ictx.timer', timer);
        timer.armIn(1000);
        ctx.log.info(report());
        return {
          translate(iova, access, req) {
            checkTree('translate.req', req);
            check('translate.arguments', arguments);
            note('=translate.this is the model', S(typeof this));
            ctx.log.info(report());
            if (iova >= 0x40000000 && iova < 0x40001000)
              return { kind: 'entry', iova: 0x40000000, translated: 0x100000, pageSize: 4096, perm: 'read-write' };
            return { kind: 'fault', reason: 'not-present' };
          },
          attach(req) { checkTree('attach.req', req); ctx.log.info(report()); },
          detach(req) { checkTree('detach.req', req); },
        };
      } };`,
      { kind: 'iommu', caps: ['timers'], host },
    );
    const device = load(
      'esc-mmu-dev',
      `module.exports.default = { ${PCI}, create(ctx) {
        regs(ctx, () => {
          const m = ctx.dma.map(0x40000000, 16, 'read', function (mm) {
            checkTree('onInvalidate.mapping', mm);
            check('onInvalidate.arguments', arguments);
            note('=onInvalidate.same mapping', S(mm === m));
            ctx.log.info(report());
          });
          checkTree('mapping', m);
          note('=mapped', S(m.bytes.length));
        });
        return {};
      } };`,
      { host },
    );
    const lines: Line[] = [];
    const emu = emulator(lines, 4 << 20);
    emu.addIommu(mmu, { id: 'mmu' });
    emu.machine.dma.bind({ bus: 'pci.0' }, 'mmu');
    emu.addDevice(device);
    const d = createDriver(emu);
    const bar = enable(d.pciFind(VENDOR, DEVICE)!);
    d.writel(bar, 1);
    d.clockStep(5000);
    const im = mustLog(lines, 'esc-mmu:');
    const dm = mustLog(lines, 'esc-mmu-dev:');
    expect(im['=invalidated']).toBe('yes');
    expect(dm['=mapped']).toBe('16');
    expect(dm['=onInvalidate.same mapping']).toBe('true');
    expect(Object.keys(im)).toEqual(
      expect.arrayContaining([
        'ictx',
        'ictx.host.invalidate',
        'ictx.memory.readU32LE',
        'ictx.platform.map',
        'ictx.memory error.result',
        'translate.req',
        'translate.req.requesterId',
        'translate.arguments',
      ]),
    );
    expect(Object.keys(dm)).toEqual(
      expect.arrayContaining(['onInvalidate.mapping', 'onInvalidate.arguments', 'mapping.release']),
    );
    expect(unsafe(im)).toEqual([]);
    expect(unsafe(dm)).toEqual([]);
    expect(hostEscapes()).toEqual([]);
  });
});

// ---- code generation, modules, globals ----------------------------------------------------

/** A device whose create runs `body` (with `ctx`) and logs the report. */
const inCreate = (body: string, extra = '') =>
  `module.exports.default = { ${PCI}${extra}, create(ctx) {
    regs(ctx, () => {});
    ${body}
    ctx.log.info(report());
    return {};
  } };`;

/** A device whose BAR0 write handler runs `body` (with `ctx`, bus mastering on) and logs the report. */
const onKick = (body: string, before = '') =>
  `module.exports.default = { ${PCI}, create(ctx) {
    ${before}
    const region = regs(ctx, (o, s, v, a) => {
      ${body}
      ctx.log.info(report());
    });
    return {};
  } };`;

/** Loads, places and kicks a device; returns its report. */
function kicked(id: string, body: string, o: LoadOpts & { before?: string } = {}): Outcomes {
  const { d, bar, lines } = place(load(id, onKick(body, o.before), o));
  d.writel(bar, 1);
  return mustLog(lines);
}

describe('code generation, modules and globals', () => {
  it('Function, new Function, eval, indirect eval, the other function constructors and Compartment give no process or host global', () => {
    const o = mustLog(
      place(
        load(
          'esc-codegen',
          inCreate(`
            attempt('=Function', () => Function('return typeof process')());
            attempt('=new Function this', () => typeof new Function('return this')());
            attempt('=Function globalThis', () => Function('return globalThis')() === globalThis);
            attempt('=Function globalThis.process', () => typeof Function('return globalThis.process')());
            const ev = 'ev' + 'al';
            attempt('=direct eval', () => Function('return ' + ev + '("typeof process")')());
            attempt('=indirect eval', () => (0, eval)('typeof process'));
            attempt('=indirect eval this', () => (0, eval)('this') === globalThis);
            attempt('=eval Function', () => (0, eval)('Function')('return typeof process')());
            attempt('=eval with', () => (0, eval)('(function () { with (globalThis) return typeof process; })()'));
            attempt('=function constructor', () => (function () {}).constructor('return 1'));
            attempt('=arrow constructor', () => (() => 1).constructor('return 1'));
            attempt('=async constructor', () => (async function () {}).constructor('return 1'));
            attempt('=generator constructor', () => (function* () {}).constructor('yield 1'));
            attempt('=async generator constructor', () => (async function* () {}).constructor(''));
            attempt('=eval.constructor.constructor', () => eval.constructor.constructor('return 1'));
            attempt('=globalThis prototype', () => Object.getPrototypeOf(globalThis) === Object.prototype);
            attempt('=Compartment', () => new Compartment().evaluate('typeof process'));
            attempt('=Compartment Function', () => new Compartment().evaluate('Function("return typeof process")()'));
            attempt('=Compartment globals', () => typeof new Compartment({ __options__: true, globals: {} }).globalThis.process);
            attempt('=lockdown', () => lockdown());
          `),
        ),
      ).lines,
    );
    const inert = 'threw:TypeError: Function.prototype.constructor is not a valid constructor.';
    expect(o).toMatchObject({
      '=Function': 'ok:undefined',
      '=new Function this': 'ok:undefined',
      '=Function globalThis': 'ok:true',
      '=Function globalThis.process': 'ok:undefined',
      '=indirect eval': 'ok:undefined',
      '=indirect eval this': 'ok:true',
      '=eval Function': 'ok:undefined',
      '=function constructor': inert,
      '=arrow constructor': inert,
      '=eval.constructor.constructor': inert,
      '=globalThis prototype': 'ok:true',
      '=Compartment': 'ok:undefined',
      '=Compartment Function': 'ok:undefined',
      '=Compartment globals': 'ok:undefined',
    });
    // Direct eval in code made at run time evaluates in the compartment (a bundle that
    // contains one is refused outright, see the import test); `with` is a SyntaxError because
    // compartment code is strict.
    expect(o['=direct eval']).toBe('ok:undefined');
    expect(o['=eval with']).toMatch(/^threw:SyntaxError/);
    for (const k of [
      '=async constructor',
      '=generator constructor',
      '=async generator constructor',
    ])
      expect(o[k]).toMatch(
        /^threw:TypeError: \w*Function.prototype.constructor is not a valid constructor/,
      );
    expect(o['=lockdown']).toMatch(/^threw:TypeError/);
    expect(hostEscapes()).toEqual([]);
  });

  it('dynamic import() (and a direct eval in the bundle) is rejected, in the bundle and when built at run time', () => {
    const literal = thrown(() =>
      load('esc-import', "module.exports.default = import('node:child_process');"),
    );
    expect(literal).toMatch(/^E_PLUGIN_EVAL: .*SyntaxError: Possible import expression rejected/);
    expect(literal).toContain('SES_IMPORT_REJECTED');
    const o = mustLog(
      place(
        load(
          'esc-import-rt',
          inCreate(`
            const imp = 'imp' + 'ort';
            attempt('=Function', () => Function('return ' + imp + '("node:fs")')());
            attempt('=indirect eval', () => (0, eval)(imp + '("node:fs")'));
            attempt('=Compartment', () => new Compartment().evaluate(imp + '("node:fs")'));
            attempt('=import.meta', () => Function('return ' + imp + '.meta')());
          `),
        ),
      ).lines,
    );
    for (const k of ['=Function', '=indirect eval', '=Compartment'])
      expect(o[k]).toMatch(/^threw:SyntaxError: Possible import expression rejected/);
    expect(o['=import.meta']).toBe("threw:SyntaxError: Cannot use 'import.meta' outside a module");
    const direct = thrown(() =>
      load('esc-direct-eval', "module.exports = eval('typeof process');"),
    );
    expect(direct).toMatch(
      /^E_PLUGIN_EVAL: .*SyntaxError: Possible direct eval expression rejected/,
    );
    expect(hostEscapes()).toEqual([]);
  });

  it('require refuses Node builtins and every other specifier, and carries nothing else', () => {
    const o = mustLog(
      place(
        load(
          'esc-require',
          inCreate(`
            for (const id of ['fs', 'node:fs', 'node:child_process', 'child_process', 'module', 'process',
              'vm', 'node:worker_threads', '@emuhost/host', '@emuhost/sandbox', '@emuhost/sdk/package.json',
              '@emuhost/sdk/../../host', 'ses'])
              attempt('=require(' + id + ')', () => require(id));
            attempt('=require.resolve', () => typeof require.resolve);
            attempt('=require.cache', () => typeof require.cache);
            attempt('=require.main', () => typeof require.main);
            attempt('=module.require', () => typeof module.require);
            attempt('=module.constructor._load', () => typeof module.constructor._load);
            attempt('=require frozen', () => Object.isFrozen(require));
            attempt('=require.cache =', () => { require.cache = {}; });
            attempt('=sdk is the same object', () => require('@emuhost/sdk') === require('@emuhost/sdk'));
          `),
        ),
      ).lines,
    );
    const refused = Object.entries(o).filter(([k]) => k.startsWith('=require('));
    expect(refused).toHaveLength(13);
    for (const [k, v] of refused)
      expect(v, k).toBe(
        `threw:Error: a plugin may require only @emuhost/sdk, not '${k.slice('=require('.length, -1)}'`,
      );
    expect(o).toMatchObject({
      '=require.resolve': 'ok:undefined',
      '=require.cache': 'ok:undefined',
      '=require.main': 'ok:undefined',
      '=module.require': 'ok:undefined',
      '=module.constructor._load': 'ok:undefined',
      '=require frozen': 'ok:true',
      '=sdk is the same object': 'ok:true',
    });
    expect(o['=require.cache =']).toMatch(/^threw:TypeError/);
    expect(hostEscapes()).toEqual([]);
  });

  it('globalThis holds only hardened intrinsics and the CommonJS names (require answers only the SDK): no process, Buffer, fetch, console, timers or WebAssembly', () => {
    const FORBIDDEN = [
      'process',
      'global',
      'Buffer',
      'fetch',
      'console',
      'WebAssembly',
      'SharedArrayBuffer',
      'Atomics',
      'setTimeout',
      'setInterval',
      'setImmediate',
      'queueMicrotask',
      'structuredClone',
      'TextEncoder',
      'performance',
      'crypto',
      'navigator',
      'MessageChannel',
      'Worker',
      'WeakRef',
      'FinalizationRegistry',
      '__dirname',
    ];
    const o = mustLog(
      place(
        load(
          'esc-globals',
          inCreate(`
            note('=keys', J.stringify(RF.ownKeys(globalThis).map((k) => S(k)).sort()));
            for (const n of ${JSON.stringify(FORBIDDEN)}) {
              attempt('=typeof ' + n, () => typeof globalThis[n]);
              attempt('=Function ' + n, () => Function('return typeof ' + n)());
            }
          `),
        ),
      ).lines,
    );
    expect(JSON.parse(o['=keys']!)).toEqual(
      [
        'AggregateError',
        'Array',
        'ArrayBuffer',
        'BigInt',
        'BigInt64Array',
        'BigUint64Array',
        'Boolean',
        'Compartment',
        'DataView',
        'Date',
        'Error',
        'EvalError',
        'Function',
        'Infinity',
        'Int16Array',
        'Int32Array',
        'Int8Array',
        'JSON',
        'Map',
        'Math',
        'NaN',
        'Number',
        'Object',
        'Promise',
        'Proxy',
        'RangeError',
        'ReferenceError',
        'Reflect',
        'RegExp',
        'Set',
        'String',
        'Symbol',
        'Symbol(Symbol.unscopables)',
        'SyntaxError',
        'TypeError',
        'URIError',
        'Uint16Array',
        'Uint32Array',
        'Uint8Array',
        'Uint8ClampedArray',
        'WeakMap',
        'WeakSet',
        'decodeURI',
        'decodeURIComponent',
        'encodeURI',
        'encodeURIComponent',
        'escape',
        'eval',
        'exports',
        'globalThis',
        'harden',
        'isFinite',
        'isNaN',
        'lockdown',
        'module',
        'parseFloat',
        'parseInt',
        'require',
        'undefined',
        'unescape',
      ].sort(),
    );
    for (const n of FORBIDDEN) {
      expect(o[`=typeof ${n}`], n).toBe('ok:undefined');
      expect(o[`=Function ${n}`], n).toBe('ok:undefined');
    }
    expect(hostEscapes()).toEqual([]);
  });

  it('no timers, no Atomics.wait, no real time; Promise jobs run later but with no more authority', async () => {
    const { lines } = place(
      load(
        'esc-timers',
        inCreate(`
          for (const n of ['setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask', 'requestAnimationFrame', 'Atomics'])
            attempt('=typeof ' + n, () => typeof globalThis[n]);
          attempt('=Date.now', () => Date.now());
          attempt('=new Date', () => S(new Date()));
          attempt('=Math.random', () => Math.random());
          Promise.resolve().then(() => {
            note('=job ran after create', 'yes');
            attempt('=job typeof process', () => typeof process);
            attempt('=job Function process', () => Function('return typeof process')());
            check('job ctx', ctx);
            ctx.log.info(report());
          });
          note('=create done', 'yes');
        `),
      ),
    );
    const before = mustLog(lines);
    expect(before['=job ran after create']).toBeUndefined();
    await new Promise((r) => setTimeout(r, 0));
    const o = mustLog(lines);
    expect(o).toMatchObject({
      '=typeof setTimeout': 'ok:undefined',
      '=typeof setInterval': 'ok:undefined',
      '=typeof setImmediate': 'ok:undefined',
      '=typeof queueMicrotask': 'ok:undefined',
      '=typeof requestAnimationFrame': 'ok:undefined',
      '=typeof Atomics': 'ok:undefined',
      '=job ran after create': 'yes',
      '=job typeof process': 'ok:undefined',
      '=job Function process': 'ok:undefined',
      'job ctx': SAFE,
    });
    // No clock but the virtual one: SES's secure mode refuses ambient time and randomness.
    expect(o['=Date.now']).toMatch(
      /^threw:TypeError: secure mode Calling %SharedDate%\.now\(\) throws/,
    );
    expect(o['=new Date']).toMatch(/^threw:TypeError: secure mode Calling new %SharedDate%\(\)/);
    expect(o['=Math.random']).toMatch(
      /^threw:TypeError: secure mode %SharedMath%\.random\(\) throws/,
    );
    expect(hostEscapes()).toEqual([]);
  });

  it('SharedArrayBuffer, Atomics and WebAssembly are absent and cannot be recovered', () => {
    const o = mustLog(
      place(
        load(
          'esc-sab',
          inCreate(`
            for (const n of ['SharedArrayBuffer', 'Atomics', 'WebAssembly']) {
              attempt('=' + n, () => typeof globalThis[n]);
              attempt('=eval ' + n, () => (0, eval)('typeof ' + n));
              attempt('=child compartment ' + n, () => typeof new Compartment().globalThis[n]);
            }
            attempt('=ArrayBuffer prototype species', () => ArrayBuffer[Symbol.species] === ArrayBuffer);
            attempt('=growable buffer is not shared', () => Object.prototype.toString.call(new ArrayBuffer(8, { maxByteLength: 16 })));
            attempt('=typed array over a shared buffer', () => new Int32Array(new ArrayBuffer(8)).buffer.constructor === ArrayBuffer);
          `),
        ),
      ).lines,
    );
    for (const n of ['SharedArrayBuffer', 'Atomics', 'WebAssembly']) {
      expect(o[`=${n}`]).toBe('ok:undefined');
      expect(o[`=eval ${n}`]).toBe('ok:undefined');
      expect(o[`=child compartment ${n}`]).toBe('ok:undefined');
    }
    expect(o['=growable buffer is not shared']).toBe('ok:[object ArrayBuffer]');
    expect(hostEscapes()).toEqual([]);
  });

  it('Error.prepareStackTrace, Error.captureStackTrace and stackTraceLimit are powerless', () => {
    const o = kicked(
      'esc-stack',
      `
      let calls = 0;
      const hook = (err, frames) => { calls++; for (const f of frames) { check('callsite', f); check('callsite.getThis', f.getThis()); check('callsite.getFunction', f.getFunction()); } return 'HOOKED'; };
      attempt('=set prepareStackTrace', () => { Error.prepareStackTrace = hook; });
      attempt('=prepareStackTrace is ours', () => Error.prepareStackTrace === hook);
      attempt('=own stack', () => new Error('a').stack === 'HOOKED');
      attempt('=membrane error stack', () => { try { ctx.dma.readU8('x'); } catch (e) { check('membrane error', e); return e.stack === 'HOOKED'; } });
      attempt('=host error stack', () => { try { ctx.pci.configSetWritable(0, 4, 0); } catch (e) { check('host error', e); note('=host error name', e.name); return e.stack === 'HOOKED'; } });
      attempt('=DmaError path', () => S(ctx.dma.read(0x7ff00000, new Uint8Array(1)).result));
      note('=hook calls', S(calls));
      const target = {};
      attempt('=captureStackTrace', () => { Error.captureStackTrace(target); return J.stringify(target.stack); });
      attempt('=captureStackTrace on a handle', () => Error.captureStackTrace(ctx.dma));
      attempt('=stackTraceLimit', () => { Error.stackTraceLimit = 1000; return Error.stackTraceLimit; });
      attempt('=stack of a host-called callback is a string', () => typeof new Error('x').stack);
      `,
    );
    expect(o).toMatchObject({
      '=set prepareStackTrace': 'ok:undefined',
      '=prepareStackTrace is ours': 'ok:false',
      '=own stack': 'ok:false',
      '=membrane error stack': 'ok:false',
      '=host error stack': 'ok:false',
      '=host error name': 'EmuhostError',
      '=DmaError path': 'ok:decode-error',
      '=hook calls': '0',
      '=captureStackTrace': 'ok:""',
      '=stackTraceLimit': 'ok:undefined',
      '=stack of a host-called callback is a string': 'ok:string',
      'membrane error': SAFE,
      'host error': SAFE,
    });
    // A hardened handle cannot be given a stack.
    expect(o['=captureStackTrace on a handle']).toMatch(/^threw:TypeError/);
    expect(o.callsite).toBeUndefined();
    expect(hostEscapes()).toEqual([]);
  });

  it('arguments.callee and .caller from callbacks the host calls', () => {
    const plugin = load(
      'esc-caller',
      `module.exports.default = { ${PCI}, create(ctx) {
        const r = ctx.mmio('regs', 0x1000, {
          read: function cb(o, s, a) {
            attempt('=arguments.callee', () => typeof arguments.callee);
            attempt('=cb.caller', () => cb.caller);
            attempt('=cb.arguments', () => cb.arguments);
            attempt('=own caller property', () => Object.prototype.hasOwnProperty.call(cb, 'caller'));
            attempt('=membrane fn caller', () => ctx.dma.read.caller);
            attempt('=membrane fn own caller', () => Object.prototype.hasOwnProperty.call(ctx.dma.read, 'caller'));
            attempt('=Function.prototype caller', () => typeof RF.getOwnPropertyDescriptor(Function.prototype, 'caller'));
            attempt('=sloppy function from Function', () => Function('return (function f() { return typeof f.caller; })()')());
            attempt('=this in a Function-made function', () => Function('return (function () { return this; })()')());
            ctx.log.info(report());
            return 1;
          },
          write: () => {},
        });
        ctx.pci.bar(0, { kind: 'memory', size: 0x1000 }, r);
        return {};
      } };`,
      { caps: ['pci', 'dma'] },
    );
    const { d, bar, lines } = place(plugin);
    expect(d.readl(bar)).toBe(1);
    const o = mustLog(lines);
    expect(o['=arguments.callee']).toMatch(/^threw:TypeError/);
    expect(o['=own caller property']).toBe('ok:false');
    expect(o['=membrane fn own caller']).toBe('ok:false');
    expect(o['=this in a Function-made function']).toBe('ok:undefined');
    // Strict functions: `caller`/`arguments` are poison pills or empty, never a host function.
    for (const k of [
      '=cb.caller',
      '=cb.arguments',
      '=membrane fn caller',
      '=sloppy function from Function',
    ])
      expect(o[k], k).toMatch(/^(threw:TypeError|ok:undefined|ok:null)/);
    expect(hostEscapes()).toEqual([]);
  });
});

// ---- intrinsics and other plugins --------------------------------------------------------

describe('intrinsics, other plugins, and the realm the membrane lives in', () => {
  it('prototype pollution of Object/Array/Function.prototype throws and reaches neither the host nor another plugin', () => {
    const host = new PluginHost();
    const push = Array.prototype.push;
    const call = Function.prototype.call;
    const a = load(
      'esc-pollute-a',
      inCreate(
        `
        attempt('=Object.prototype.polluted =', () => { Object.prototype.polluted = 'A'; });
        attempt('=defineProperty Object.prototype', () => Object.defineProperty(Object.prototype, 'polluted', { value: 'A' }));
        attempt('=Array.prototype.polluted =', () => { Array.prototype.polluted = 'A'; });
        attempt('=Array.prototype.push =', () => { Array.prototype.push = function () {}; });
        attempt('=Array.prototype[Symbol.iterator] =', () => { Array.prototype[Symbol.iterator] = function* () {}; });
        attempt('=delete Array.prototype.map', () => delete Array.prototype.map);
        attempt('=Function.prototype.polluted =', () => { Function.prototype.polluted = 'A'; });
        attempt('=Function.prototype.call =', () => { Function.prototype.call = function () {}; });
        attempt('=setPrototypeOf Object.prototype', () => Object.setPrototypeOf(Object.prototype, {}));
        attempt('=setPrototypeOf Array.prototype', () => Object.setPrototypeOf(Array.prototype, null));
        attempt('=Object.prototype.__proto__ =', () => { Object.prototype.__proto__ = { polluted: 'A' }; });
        attempt('=JSON.parse =', () => { JSON.parse = () => 'A'; });
        attempt('=Uint8Array.prototype.set =', () => { Uint8Array.prototype.set = function () {}; });
        attempt('=ctx.__proto__ =', () => { ctx.__proto__ = { polluted: 'A' }; });
        attempt('=ctx.dma.read =', () => { ctx.dma.read = () => 'A'; });
        attempt('=own override still works', () => { const x = []; x.push = () => 'mine'; return x.push(); });
        attempt('=({}).polluted', () => ({}).polluted);
        `,
        ', pci: { vendorId: 0x1234, deviceId: 0x5a0a, classCode: 0 }',
      ),
      { host },
    );
    const b = load(
      'esc-pollute-b',
      inCreate(
        `
        attempt('=B ({}).polluted', () => ({}).polluted);
        attempt('=B [].polluted', () => [].polluted);
        attempt('=B function polluted', () => (function () {}).polluted);
        attempt('=B push works', () => { const x = []; x.push(1); return x.length; });
        attempt('=B iterator works', () => [...[1, 2]].length);
        `,
        ', pci: { vendorId: 0x1234, deviceId: 0x5a0b, classCode: 0 }',
      ),
      { host },
    );
    const lines: Line[] = [];
    const emu = emulator(lines);
    emu.addDevice(a);
    emu.addDevice(b);
    const oa = mustLog(lines, 'esc-pollute-a:');
    const ob = mustLog(lines, 'esc-pollute-b:');
    for (const [k, v] of Object.entries(oa).filter(
      ([k]) => k !== '=own override still works' && k !== '=({}).polluted',
    ))
      expect(v, k).toMatch(/^threw:TypeError/);
    expect(oa['=own override still works']).toBe('ok:mine');
    expect(oa['=({}).polluted']).toBe('ok:undefined');
    expect(ob).toMatchObject({
      '=B ({}).polluted': 'ok:undefined',
      '=B [].polluted': 'ok:undefined',
      '=B function polluted': 'ok:undefined',
      '=B push works': 'ok:1',
      '=B iterator works': 'ok:2',
    });
    // The host realm's intrinsics are untouched.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined();
    expect((((): void => {}) as unknown as Record<string, unknown>).polluted).toBeUndefined();
    expect(Array.prototype.push).toBe(push);
    expect(Function.prototype.call).toBe(call);
    expect(hostEscapes()).toEqual([]);
  });

  it("two plugins in two compartments: no shared globals, handles or attrs; another's region handle cannot be forged", () => {
    const host = new PluginHost();
    const a = load(
      'esc-two-a',
      `module.exports.default = { ${pci(0x5a0a)}, create(ctx) {
        globalThis.secretA = 'A';
        globalThis.handleA = ctx.dma;
        // The SDK's exports sit behind esbuild's export getters, so harden(sdk) does not reach
        // them: a plugin can change its own copy of the SDK, and only its own.
        attempt('=A changes its SDK', () => { require('@emuhost/sdk').EmuhostError.prototype.fromA = 'A'; return 'changed'; });
        globalThis.regionA = regs(ctx, (o, s, v, attrs) => {
          note('=A sees secretB', typeof globalThis.secretB);
          attempt('=A writes shared attrs', () => { attrs.requesterId = 666; });
          attempt('=A extends shared attrs', () => { attrs.fromA = 1; });
          attempt('=A handle still works', () => ctx.dma.canAccess(0x1000, 4, 'read'));
          ctx.log.info(report());
        });
        return {};
      } };`,
      { host },
    );
    const b = load(
      'esc-two-b',
      `module.exports.default = { ${pci(0x5a0b)}, create(ctx) {
        globalThis.secretB = 'B';
        note('=B sees secretA', typeof globalThis.secretA);
        attempt('=B sees the change to the SDK of A', () => new (require('@emuhost/sdk').EmuhostError)('E_BAD_ARGUMENT', 'x').fromA);
        note('=B sees handleA', typeof globalThis.handleA);
        note('=B sees regionA', typeof globalThis.regionA);
        note('=B own globals', RF.ownKeys(globalThis).filter((k) => typeof k === 'string' && /secret|handle|region/.test(k)).join(','));
        attempt('=B forged region handle', () => ctx.pci.bar(0, { kind: 'memory', size: 0x1000 }, harden({ name: 'regs', size: 0x1000 })));
        attempt('=B child compartment sees secretA', () => typeof new Compartment().globalThis.secretA);
        regs(ctx, (o, s, v, attrs) => {
          attempt('=B sees attrs.fromA', () => attrs.fromA);
          attempt('=B attrs frozen', () => Object.isFrozen(attrs));
          ctx.log.info(report());
        });
        ctx.log.info(report());
        return {};
      } };`,
      { host },
    );
    const lines: Line[] = [];
    const emu = emulator(lines);
    emu.addDevice(a);
    emu.addDevice(b);
    const d = createDriver(emu);
    d.writel(enable(d.pciFind(VENDOR, 0x5a0a)!), 1);
    d.writel(enable(d.pciFind(VENDOR, 0x5a0b)!), 1);
    const oa = mustLog(lines, 'esc-two-a:');
    const ob = mustLog(lines, 'esc-two-b:');
    expect(oa['=A sees secretB']).toBe('undefined');
    expect(oa['=A changes its SDK']).toMatch(/^(ok:changed|threw:TypeError)/);
    expect(oa['=A writes shared attrs']).toMatch(/^threw:TypeError/);
    expect(oa['=A extends shared attrs']).toMatch(/^threw:TypeError/);
    // Positive control: A's own handle works in the same callback.
    expect(oa['=A handle still works']).toBe('ok:true');
    expect(ob).toMatchObject({
      '=B sees secretA': 'undefined',
      '=B sees the change to the SDK of A': 'ok:undefined',
      '=B sees handleA': 'undefined',
      '=B sees regionA': 'undefined',
      '=B own globals': 'secretB',
      '=B forged region handle': 'threw:TypeError: bar: not a region handle this plugin was given',
      '=B child compartment sees secretA': 'ok:undefined',
      '=B sees attrs.fromA': 'ok:undefined',
      '=B attrs frozen': 'ok:true',
    });
    expect(hostEscapes()).toEqual([]);
  });

  it("shadowing the globals the membrane uses (ArrayBuffer, Object, Array, String, Number, Error) changes only the plugin's compartment", () => {
    const o = kicked(
      'esc-shadow',
      `
      const calls = [];
      const saved = {};
      const names = ['ArrayBuffer', 'Object', 'Array', 'String', 'Number', 'Error', 'TypeError', 'Math', 'Uint8Array'];
      for (const n of names) saved[n] = globalThis[n];
      const spy = (n) => new Px(function () {}, {
        get(_t, k) { calls.push(n + '.' + S(k)); return () => true; },
        apply() { calls.push(n + '()'); return 0; },
        construct() { calls.push('new ' + n); return {}; },
      });
      const shadowed = [];
      for (const n of names) { try { globalThis[n] = spy(n); shadowed.push(n); } catch (e) {} }
      const res = {};
      const run = (k, f) => { try { res[k] = 'ok:' + J.stringify(f()); } catch (e) { res[k] = 'threw:' + e.name; } };
      const fake = { length: 4, byteLength: 4, buffer: {}, set() { calls.push('fake.set'); } };
      run('read fake', () => ctx.dma.read(0x1000, fake));
      run('read', () => ctx.dma.read(0x1000, new saved.Uint8Array(4)));
      run('readSg', () => ctx.dma.readSg([{ addr: 0x1000, len: 4 }], new saved.Uint8Array(4)));
      run('bad addr', () => ctx.dma.readU8('x'));
      run('host error', () => ctx.pci.configSetWritable(0, 4, 0));
      run('DmaError', () => ctx.dma.read(0x7ff00000, new saved.Uint8Array(1)));
      run('map', () => typeof ctx.dma.map(0x1000, 4, 'read').release);
      run('addMsi', () => typeof ctx.pci.addMsi({ vectors: 1 }).notify);
      run('log', () => ctx.log.info(42));
      for (const n of names) globalThis[n] = saved[n];
      note('=shadowed', shadowed.join(','));
      note('=spy calls', calls.join(','));
      for (const k of Object.keys(res)) note('=' + k, res[k]);
      `,
      { caps: ['pci', 'dma', 'msi'] },
    );
    // Compartment globals are the plugin's own: it may shadow them, and nothing else sees it.
    expect(o['=shadowed']).toBe(
      'ArrayBuffer,Object,Array,String,Number,Error,TypeError,Math,Uint8Array',
    );
    expect(o['=spy calls']).toBe('');
    expect(o).toMatchObject({
      '=read fake': 'threw:TypeError',
      '=read': 'ok:"ok"',
      '=readSg': 'ok:{"result":"ok","transferred":4,"residual":0}',
      '=bad addr': 'threw:TypeError',
      '=host error': 'threw:EmuhostError',
      '=DmaError': 'ok:{"result":"decode-error","addr":2146435072,"completed":0}',
      '=map': 'ok:"function"',
      '=addMsi': 'ok:"function"',
      '=log': 'ok:undefined',
    });
    expect(hostEscapes()).toEqual([]);
  });

  it('Reflect.ownKeys / getOwnPropertyDescriptors walk of every handle, getter and prototype finds only hardened realm objects', () => {
    const o = kicked(
      'esc-walk',
      `
      const roots = {
        ctx, timer, msi, region, attrs: a,
        mapping: ctx.dma.map(0x1000, 8, 'read'),
        dmaError: ctx.dma.read(0x7ff00000, new Uint8Array(1)),
        sgResult: ctx.dma.readSg([{ addr: 0x7ff00000, len: 1 }], new Uint8Array(1)),
        require,
      };
      const TA = RF.getPrototypeOf(Uint8Array.prototype);
      const intrinsic = new Set([null, Object.prototype, Function.prototype, Array.prototype, Error.prototype,
        TypeError.prototype, Uint8Array.prototype, TA, ArrayBuffer.prototype]);
      const seen = new Set();
      const queue = Object.entries(roots);
      let visited = 0;
      const bad = [], symbols = [], unfrozen = [];
      while (queue.length > 0 && visited < 3000) {
        const [path, x] = queue.shift();
        if (x === null || (typeof x !== 'object' && typeof x !== 'function') || seen.has(x) || intrinsic.has(x)) continue;
        seen.add(x);
        visited++;
        const p = probe(path, x);
        if (p !== 'threw:TypeError') bad.push(path + ': ' + p);
        const proto = RF.getPrototypeOf(x);
        if (!intrinsic.has(proto)) queue.push([path + '.<proto>', proto]);
        if (!Object.isFrozen(x) && !ArrayBuffer.isView(x)) unfrozen.push(path);
        for (const k of RF.ownKeys(x)) {
          if (typeof k === 'symbol') symbols.push(path + '.' + k.toString());
          const d = RF.getOwnPropertyDescriptor(x, k);
          const name = path + '.' + S(k);
          if ('value' in d) { queue.push([name, d.value]); continue; }
          if (d.set) queue.push([name + '<set>', d.set]);
          if (d.get) {
            queue.push([name + '<get>', d.get]);
            try { queue.push([name, RF.apply(d.get, x, [])]); } catch (e) { queue.push([name + '<threw>', e]); }
          }
        }
      }
      note('=visited', S(visited));
      note('=bad', J.stringify(bad));
      note('=symbols', J.stringify(symbols));
      note('=unfrozen', J.stringify(unfrozen));
      `,
      {
        caps: HANDLE_CAPS,
        before: `const timer = ctx.clock.timer('t', () => {}); const msi = ctx.pci.addMsi();`,
      },
    );
    expect(JSON.parse(o['=bad']!)).toEqual([]);
    expect(JSON.parse(o['=symbols']!)).toEqual([]);
    // Everything the plugin was handed is hardened, except what is its own to write (the
    // mapping's bytes are a view, non-extensible only).
    expect(JSON.parse(o['=unfrozen']!)).toEqual([]);
    expect(Number(o['=visited'])).toBeGreaterThan(60);
    expect(hostEscapes()).toEqual([]);
  });
});

// ---- values passed into handles ------------------------------------------------------------

describe('values a plugin passes into handles', () => {
  it('Proxies passed back: a region handle, a Uint8Array, a scatter-gather list and entries, MMIO ops, the model', () => {
    const plugin = load(
      'esc-proxies',
      `module.exports.default = { ${PCI}, create(ctx) {
        const region = regs(ctx, () => {
          attempt('=region Proxy to pci.bar', () => ctx.pci.bar(1, { kind: 'memory', size: 0x1000 }, new Px(region, {})));
          attempt('=Proxy Uint8Array to read', () => ctx.dma.read(0x1000, new Px(new Uint8Array(4), {})));
          attempt('=Proxy Uint8Array to write', () => ctx.dma.write(0x1000, new Px(new Uint8Array(4), {})));
          attempt('=Proxy Uint8Array to readSg', () => ctx.dma.readSg([{ addr: 0x1000, len: 4 }], new Px(new Uint8Array(4), {})));
          const list = new Px([{ addr: 0x1000, len: 4 }], {
            get(t, k, receiver) { checkArgs('sg list get', [t, receiver]); return RF.get(t, k, receiver); },
          });
          attempt('=Proxy sg list', () => J.stringify(ctx.dma.readSg(list, new Uint8Array(4))));
          const entry = new Px({ addr: 0x1000, len: 4 }, { get(t, k, receiver) { checkArgs('sg entry get', [t, receiver]); return RF.get(t, k, receiver); } });
          attempt('=Proxy sg entry', () => J.stringify(ctx.dma.writeSg([entry], new Uint8Array(4))));
          attempt('=Proxy mmio ops', () => typeof ctx.mmio('p', 0x100, new Px({ read: () => 0, write: () => {} }, {
            get(t, k, receiver) { checkArgs('ops get', [t, receiver]); return RF.get(t, k, receiver); },
          })));
          ctx.log.info(report());
        });
        return new Px({ reset() {} }, { get(t, k, receiver) { checkArgs('model get ' + S(k), [t, receiver]); return RF.get(t, k, receiver); } });
      } };`,
    );
    const { d, bar, lines } = place(plugin);
    d.writel(bar, 1);
    d.writel(bar, 1);
    const o = mustLog(lines);
    expect(o).toMatchObject({
      '=region Proxy to pci.bar': 'threw:TypeError: bar: not a region handle this plugin was given',
      '=Proxy Uint8Array to read': 'threw:TypeError: into must be a Uint8Array',
      '=Proxy Uint8Array to write': 'threw:TypeError: data must be a Uint8Array',
      '=Proxy Uint8Array to readSg': 'threw:TypeError: into must be a Uint8Array',
      '=Proxy sg list': 'ok:{"result":"ok","transferred":4,"residual":0}',
      '=Proxy sg entry': 'ok:{"result":"ok","transferred":4,"residual":0}',
      '=Proxy mmio ops': 'ok:object',
    });
    expect(Object.keys(o)).toEqual(
      expect.arrayContaining([
        'sg list get[0]',
        'sg list get[1]',
        'sg entry get[1]',
        'ops get[1]',
        'model get reset[1]',
      ]),
    );
    expect(unsafe(o)).toEqual([]);
    expect(hostEscapes()).toEqual([]);
  });

  it('a Uint8Array subclass or swapped prototype is used only for its bytes; other views and array-likes with a fake set are refused', () => {
    const o = kicked(
      'esc-views',
      `
      class Sub extends Uint8Array { set(src) { calls.push('Sub.set'); check('Sub.set(src)', src); } }
      const calls = [];
      const fake = { length: 4, byteLength: 4, byteOffset: 0, buffer: new ArrayBuffer(4),
        set(src) { calls.push('fake.set'); check('fake.set(src)', src); }, subarray() { calls.push('fake.subarray'); return this; } };
      const cases = {
        'Uint8Array subclass': new Sub(4),
        'swapped prototype': Object.setPrototypeOf(new Uint8Array(4), Sub.prototype),
        'Object.create(Uint8Array.prototype)': Object.create(Uint8Array.prototype),
        DataView: new DataView(new ArrayBuffer(4)),
        Int8Array: new Int8Array(4),
        Uint8ClampedArray: new Uint8ClampedArray(4),
        'fake set': fake,
        'array of bytes': [1, 2, 3, 4],
      };
      for (const k of Object.keys(cases)) {
        attempt('=read ' + k, () => ctx.dma.read(0x1000, cases[k]));
        attempt('=write ' + k, () => ctx.dma.write(0x1000, cases[k]));
        attempt('=readSg ' + k, () => J.stringify(ctx.dma.readSg([{ addr: 0x1000, len: 4 }], cases[k])));
      }
      const sub = new Sub(4);
      ctx.dma.write(0x1000, Uint8Array.of(9, 8, 7, 6));
      ctx.dma.read(0x1000, sub);
      note('=subclass got the bytes', J.stringify(Array.from(sub)));
      note('=calls', calls.join(','));
      `,
    );
    // A genuine Uint8Array with another prototype: the membrane's brand check (the
    // %TypedArray% getters) accepts it, and the kernel gets a fresh view of its bytes, never
    // the plugin's object. Refusing it would be as safe.
    for (const c of ['Uint8Array subclass', 'swapped prototype']) {
      expect(o[`=read ${c}`], c).toMatch(/^(ok:ok|threw:TypeError: into must be a Uint8Array)$/);
      expect(o[`=write ${c}`], c).toMatch(/^(ok:ok|threw:TypeError: data must be a Uint8Array)$/);
    }
    if (o['=read Uint8Array subclass'] === 'ok:ok')
      expect(o['=subclass got the bytes']).toBe('[9,8,7,6]');
    const cases = [
      'Object.create(Uint8Array.prototype)',
      'DataView',
      'Int8Array',
      'Uint8ClampedArray',
      'fake set',
      'array of bytes',
    ];
    for (const c of cases) {
      expect(o[`=read ${c}`], c).toBe('threw:TypeError: into must be a Uint8Array');
      expect(o[`=write ${c}`], c).toBe('threw:TypeError: data must be a Uint8Array');
      expect(o[`=readSg ${c}`], c).toBe('threw:TypeError: into must be a Uint8Array');
    }
    expect(o['=calls']).toBe('');
    expect(hostEscapes()).toEqual([]);
  });

  it('Symbol.toPrimitive / valueOf / toString on values passed in run only in the realm, if at all', () => {
    const o = kicked(
      'esc-toprimitive',
      `
      const coerced = [];
      const evil = (label) => ({
        [Symbol.toPrimitive]: argTrap(label + '[Symbol.toPrimitive]', () => { coerced.push(label); return 1; }),
        valueOf: argTrap(label + '.valueOf', () => 1),
        toString: argTrap(label + '.toString', () => 'x'),
      });
      attempt('=dma.readU8(addr)', () => ctx.dma.readU8(evil('addr')));
      attempt('=dma.writeU32LE(value)', () => ctx.dma.writeU32LE(0x1000, evil('value')));
      attempt('=dma.writeU64LE(value)', () => ctx.dma.writeU64LE(0x1000, evil('big')));
      attempt('=dma.canAccess(access)', () => ctx.dma.canAccess(0x1000, 4, evil('access')));
      attempt('=dma.fill(len)', () => ctx.dma.fill(0x1000, 0, evil('len')));
      attempt('=dma.readSg(entry.addr)', () => ctx.dma.readSg([{ addr: evil('sgaddr'), len: 4 }], new Uint8Array(4)));
      attempt('=clock.timer(name)', () => ctx.clock.timer(evil('name'), () => {}));
      attempt('=timer.armIn(ns)', () => timer.armIn(evil('ns')));
      attempt('=irq.set(level)', () => ctx.irq.set(evil('level')));
      attempt('=pci.bar(spec.kind)', () => ctx.pci.bar(1, { kind: evil('kind'), size: 16 }, region));
      attempt('=pci.configSet(value)', () => ctx.pci.configSet(0x40, 4, evil('cfg')));
      attempt('=mmio(size)', () => ctx.mmio('m2', evil('size'), { read: () => 0, write: () => {} }));
      attempt('=mmio(rules.valid.min)', () => ctx.mmio('m3', 0x100, { read: () => 0, write: () => {} }, { valid: { min: evil('min') } }));
      attempt('=log.info(message)', () => ctx.log.info(evil('message')));
      note('=coerced', coerced.join(','));
      `,
      {
        caps: ['pci', 'dma', 'irq', 'timers'],
        before: `const timer = ctx.clock.timer('t', () => {});`,
      },
    );
    expect(o).toMatchObject({
      '=dma.readU8(addr)': 'threw:TypeError: addr must be a number',
      '=dma.writeU32LE(value)': 'threw:TypeError: value must be a number',
      '=dma.writeU64LE(value)': 'threw:TypeError: value must be a bigint',
      '=dma.canAccess(access)': 'threw:TypeError: access must be a string',
      '=dma.fill(len)': 'threw:TypeError: len must be a number',
      '=dma.readSg(entry.addr)': 'threw:TypeError: sg[0].addr must be a number',
      '=clock.timer(name)': 'threw:TypeError: name must be a string',
      '=timer.armIn(ns)': 'threw:TypeError: ns must be a number',
      // Only its truthiness is used.
      '=irq.set(level)': 'ok:undefined',
      '=pci.bar(spec.kind)': 'threw:TypeError: kind must be a string',
      '=pci.configSet(value)': 'threw:TypeError: value must be a number',
      '=mmio(size)': 'threw:TypeError: size must be a number',
      '=mmio(rules.valid.min)': 'threw:TypeError: min must be a number',
      '=log.info(message)': 'ok:undefined',
      // The one coercion happens in the membrane (the locked realm), so the trap's argument
      // list is a realm array.
      '=coerced': 'message',
      'message[Symbol.toPrimitive]': SAFE,
    });
    expect(Object.keys(o).filter((k) => !k.startsWith('='))).toEqual([
      'message[Symbol.toPrimitive]',
    ]);
    expect(hostEscapes()).toEqual([]);
  });

  it('typed arrays a plugin receives (saved state, mapping bytes) are backed by realm ArrayBuffers', () => {
    const data = {
      bytes: Uint8Array.of(1, 2, 3),
      words: Uint32Array.of(7),
      list: [new Uint8Array(2)],
      n: 5,
    };
    const plugin = load(
      'esc-arrays',
      `module.exports.default = { ${PCI}, create(ctx, state) {
        const arrays = { 'state.bytes': state.bytes, 'state.words': state.words, 'state.list[0]': state.list[0] };
        const check1 = (k, a) => {
          note('=' + k + ' realm Uint8Array', S(RF.getPrototypeOf(a) === Uint8Array.prototype));
          note('=' + k + ' realm ArrayBuffer', S(RF.getPrototypeOf(a.buffer) === ArrayBuffer.prototype && a.buffer.constructor === ArrayBuffer));
          check(k + '.buffer', a.buffer);
          check(k + '.buffer.constructor', a.buffer.constructor);
        };
        for (const k of Object.keys(arrays)) check1(k, arrays[k]);
        note('=state.words realm Uint32Array', S(RF.getPrototypeOf(state.words) === Uint32Array.prototype));
        checkTree('state', state);
        note('=state frozen', S(Object.isFrozen(state)));
        note('=state.words', J.stringify(Array.from(state.words)));
        regs(ctx, () => {
          const m = ctx.dma.map(0x1000, 8, 'read');
          check1('mapping.bytes', m.bytes);
          ctx.log.info(report());
        });
        return {};
      } };`,
    );
    const { d, bar, lines } = place(plugin, { state: { version: 1, data } });
    d.writel(bar, 1);
    const o = mustLog(lines);
    for (const k of ['state.bytes', 'state.list[0]', 'mapping.bytes']) {
      expect(o[`=${k} realm Uint8Array`], k).toBe('true');
      expect(o[`=${k} realm ArrayBuffer`], k).toBe('true');
    }
    expect(o['=state.words realm ArrayBuffer']).toBe('true');
    // Restored state is the plugin's own fresh copy (not frozen), typed arrays keeping their kind.
    expect(o['=state frozen']).toBe('false');
    expect(o['=state.words realm Uint32Array']).toBe('true');
    expect(o['=state.words']).toBe('[7]');
    expect(unsafe(o)).toEqual([]);
    expect(hostEscapes()).toEqual([]);
  });

  // Was an escape when this catalogue first ran: `bytes()` accepted a genuine Uint8Array with
  // an OWN `set`, and AddressSpace.read called `into.set(view)` with a HOST Uint8Array over all
  // of guest RAM (the host's Function, and guest memory past the IOMMU). The membrane now hands
  // the kernel a fresh realm view of the array's bytes.
  it('a Uint8Array with its own set, subarray, fill and length is used only for its bytes', () => {
    const plugin = load(
      'esc-own-methods',
      onKick(`
        const own = (u) => {
          Object.defineProperty(u, 'set', { value: argTrap('own set args', () => undefined) });
          Object.defineProperty(u, 'subarray', { value: argTrap('own subarray args', () => new Uint8Array(4)) });
          Object.defineProperty(u, 'fill', { value: argTrap('own fill args', () => u) });
          Object.defineProperty(u, 'length', { get: argTrap('own length<get> args', () => 1) });
          return u;
        };
        const x1 = own(new Uint8Array(4));
        attempt('=read', () => ctx.dma.read(0x1000, x1));
        note('=read bytes', J.stringify(Array.from(new Uint8Array(x1.buffer))));
        const x2 = own(new Uint8Array(4));
        attempt('=readSg', () => J.stringify(ctx.dma.readSg([{ addr: 0x1000, len: 2 }, { addr: 0x1002, len: 2 }], x2)));
        note('=readSg bytes', J.stringify(Array.from(new Uint8Array(x2.buffer))));
        const x3 = own(Uint8Array.of(5, 6, 7, 8));
        attempt('=write', () => ctx.dma.write(0x2000, x3));
        attempt('=writeSg', () => J.stringify(ctx.dma.writeSg([{ addr: 0x3000, len: 4 }], x3)));
      `),
    );
    const { d, bar, lines } = place(plugin);
    d.memwrite(0x1000, Uint8Array.of(1, 2, 3, 4));
    d.writel(bar, 1);
    const o = mustLog(lines);
    expect(o).toMatchObject({
      '=read': 'ok:ok',
      '=read bytes': '[1,2,3,4]',
      '=readSg': 'ok:{"result":"ok","transferred":4,"residual":0}',
      '=readSg bytes': '[1,2,3,4]',
      '=write': 'ok:ok',
      '=writeSg': 'ok:{"result":"ok","transferred":4,"residual":0}',
    });
    // The kernel copied the real bytes, however the array described itself.
    expect([...d.memread(0x2000, 4)]).toEqual([5, 6, 7, 8]);
    expect([...d.memread(0x3000, 4)]).toEqual([5, 6, 7, 8]);
    // None of the plugin's own methods or getters ran.
    expect(Object.keys(o).filter((k) => !k.startsWith('='))).toEqual([]);
    expect(hostEscapes()).toEqual([]);
  });

  // Was an escape (of the IOMMU, not the realm) when this catalogue first ran: an own `length`
  // of 4 on a 64-byte array made DmaContext translate one page while AddressSpace.write copied
  // all 64 bytes past the page the IOMMU permitted. The kernel now sees the real byteLength.
  it('an own `length` on dma.write data cannot write past the page the IOMMU permits', () => {
    const lines: Line[] = [];
    const host = new PluginHost();
    const mmu = load(
      'esc-len-mmu',
      `module.exports.default = { kind: 'iommu', create(ctx) { return {
        translate(iova) {
          if (iova >= 0x40000000 && iova < 0x40001000)
            return { kind: 'entry', iova: 0x40000000, translated: 0x100000, pageSize: 4096, perm: 'read-write' };
          return { kind: 'fault', reason: 'not-present' };
        } }; } };`,
      { kind: 'iommu', caps: [], host },
    );
    const dev = load(
      'esc-len-dev',
      onKick(`
        const data = new Uint8Array(64).fill(0xab);
        Object.defineProperty(data, 'length', { value: 4 });
        attempt('=lying write', () => J.stringify(ctx.dma.write(0x40000ffc, data)));
        attempt('=honest write', () => J.stringify(ctx.dma.write(0x40000ffc, new Uint8Array(64))));
        attempt('=write inside the page', () => J.stringify(ctx.dma.write(0x40000000, Uint8Array.of(1, 2))));
      `),
      { host },
    );
    const emu = emulator(lines, 4 << 20);
    emu.addIommu(mmu, { id: 'mmu' });
    emu.machine.dma.bind({ bus: 'pci.0' }, 'mmu');
    emu.addDevice(dev);
    const d = createDriver(emu);
    d.writel(enable(d.pciFind(VENDOR, DEVICE)!), 1);
    const o = mustLog(lines);
    // Positive control: the IOMMU translates the page it maps.
    expect(o['=write inside the page']).toBe('ok:"ok"');
    expect([...d.memread(0x100000, 2)]).toEqual([1, 2]);
    for (const k of ['=lying write', '=honest write'])
      expect(JSON.parse(o[k]!.slice(3)), k).toMatchObject({ result: 'iommu-fault' });
    expect([...d.memread(0x101000, 64)]).toEqual(new Array(64).fill(0));
    expect(hostEscapes()).toEqual([]);
  });

  // ESCAPE FOUND: the membrane copies a scatter-gather list with `list.map(...)`, which is the
  // plugin's: an OWN `map` on a genuine array (Array.isArray is true) returns any object, and
  // the kernel iterates it and reads `e.addr`/`e.len` in the host realm. A getter that is a
  // Proxy function then gets a host argument list. Repro:
  //   const evil = [{ len: 4 }];
  //   Object.defineProperty(evil[0], 'addr', { get: new Proxy(function () {}, { apply(t, s, args) {
  //     args.constructor.constructor('return process')(); return 0x1000; } }) });
  //   const list = [{ addr: 0x1000, len: 4 }];
  //   Object.defineProperty(list, 'map', { value: () => evil });
  //   ctx.dma.readSg(list, new Uint8Array(4));
  it('a scatter-gather list with an own `map` cannot hand the kernel its own entries', () => {
    let o: Outcomes = {};
    thrown(() => {
      const rig = place(
        load(
          'esc-sg-map',
          onKick(`
            const evil = [{ len: 4 }];
            Object.defineProperty(evil[0], 'addr', { get: argTrap('entry.addr<get> args', () => 0x1000) });
            const list = [{ addr: 0x1000, len: 4 }];
            Object.defineProperty(list, 'map', { value: () => evil });
            attempt('=readSg', () => J.stringify(ctx.dma.readSg(list, new Uint8Array(4))));
          `),
        ),
      );
      rig.d.writel(rig.bar, 1);
      o = mustLog(rig.lines);
    });
    expect(o, 'the plugin ran and reported').not.toEqual({});
    expect(hostEscapes()).toEqual([]);
    expect(o['entry.addr<get> args'] ?? SAFE).toBe(SAFE);
  });

  // ESCAPE FOUND: Symbol.species on the scatter-gather array: `list.map` (the realm's
  // Array.prototype.map) builds its result with the plugin's species constructor, which can
  // return a Proxy that ignores the copied entries; the kernel then reads the plugin's entries
  // in the host realm. Repro:
  //   const entry = { len: 4 }; Object.defineProperty(entry, 'addr', { get: <Proxy fn, apply trap> });
  //   const fake = new Proxy([entry], { defineProperty() { return true; } });
  //   const list = [{ addr: 0x1000, len: 4 }];
  //   Object.defineProperty(list, 'constructor', { value: { [Symbol.species]: function () { return fake; } } });
  //   ctx.dma.readSg(list, new Uint8Array(4));
  it('Symbol.species on a scatter-gather array cannot hand the kernel plugin entries', () => {
    let o: Outcomes = {};
    thrown(() => {
      const rig = place(
        load(
          'esc-sg-species',
          onKick(`
            const entry = { len: 4 };
            Object.defineProperty(entry, 'addr', { get: argTrap('entry.addr<get> args', () => 0x1000) });
            const fake = new Px([entry], { defineProperty() { return true; } });
            const list = [{ addr: 0x1000, len: 4 }];
            Object.defineProperty(list, 'constructor', { value: { [Symbol.species]: function () { return fake; } } });
            attempt('=readSg', () => J.stringify(ctx.dma.readSg(list, new Uint8Array(4))));
          `),
        ),
      );
      rig.d.writel(rig.bar, 1);
      o = mustLog(rig.lines);
    });
    expect(o, 'the plugin ran and reported').not.toEqual({});
    expect(hostEscapes()).toEqual([]);
    expect(o['entry.addr<get> args'] ?? SAFE).toBe(SAFE);
  });
});

// ---- values returned to, or thrown at, the host ------------------------------------------------

describe('values a plugin returns to, or throws at, the host', () => {
  it('callbacks throwing strings, numbers, Symbols, null, realm Errors, or objects with a toString or stack getter are contained by the guard', () => {
    const plugin = load(
      'esc-throws',
      `module.exports.default = { ${PCI}, create(ctx) {
        const which = Number(ctx.id.slice('esc-throws'.length));
        const t = ctx.clock.timer('t', () => { throw Symbol('from a timer'); });
        const thrown = [
          () => 'a string',
          () => 42,
          () => null,
          () => new TypeError('a realm error'),
          () => ({ toString: function () {
            check('thrown.toString.arguments', arguments);
            note('=thrown.toString.argc', S(arguments.length));
            ctx.log.info(report());
            return 'custom';
          } }),
          () => ({ get toString() {
            check('thrown.toString<get>.arguments', arguments);
            note('=thrown.toString<get>.argc', S(arguments.length));
            ctx.log.info(report());
            return () => 'from a getter';
          } }),
          () => ({ get stack() {
            check('thrown.stack<get>.arguments', arguments);
            note('=thrown.stack<get>.argc', S(arguments.length));
            ctx.log.info(report());
            return 'a stack';
          } }),
        ];
        regs(ctx, () => {
          if (which === thrown.length) { t.armIn(1); return; }
          throw thrown[which]();
        });
        ctx.log.info('created ' + ctx.id);
        return {};
      } };`,
      { caps: ['pci', 'timers'] },
    );
    const lines: Line[] = [];
    const emu = emulator(lines);
    const n = 8;
    for (let i = 0; i < n; i++) emu.addDevice(plugin);
    const d = createDriver(emu);
    const devs = d.pciDevices().filter((x) => x.vendorId === VENDOR);
    expect(devs).toHaveLength(n);
    const bars = devs.map(enable);
    for (const b of bars) expect(thrown(() => d.writel(b, 1))).toBe('');
    d.clockStep(100);
    const ids = Array.from({ length: n }, (_, i) => `esc-throws${i}`);
    expect(ids.map((id) => emu.machine.device(id).scope.guard.quarantined)).toEqual(
      new Array(n).fill(true),
    );
    // A quarantined device answers as absent (all ones).
    expect(d.readl(bars[0]!)).toBe(0xffffffff);
    // Positive control: the log channel works for these devices.
    expect(lines.filter((l) => l.message.startsWith('created '))).toHaveLength(n);
    // The membrane turns what was thrown into a plain realm Error in realm code: a non-Error
    // is stringified there (its toString runs with no arguments of the host's); the `stack`
    // of a non-Error is never read. The host only ever sees the safe copy.
    const o = mustLog(lines);
    expect(o).toMatchObject({
      '=thrown.toString.argc': '0',
      'thrown.toString.arguments': SAFE,
      '=thrown.toString<get>.argc': '0',
      'thrown.toString<get>.arguments': SAFE,
    });
    expect(o['=thrown.stack<get>.argc']).toBeUndefined();
    expect(hostEscapes()).toEqual([]);
  });

  it("an MMIO write handler's return value reaches the kernel only as a result string: an object is dropped unconverted", () => {
    const host = new PluginHost();
    const target = load(
      'esc-result-a',
      `module.exports.default = { ${pci(0x5a0a)}, create(ctx) {
        const r = ctx.mmio('regs', 0x1000, {
          read: () => 0,
          write: () => ({
            [Symbol.toPrimitive]: argTrap('write result[Symbol.toPrimitive] args', () => { ctx.log.info(report()); return 'from A'; }),
          }),
        });
        ctx.pci.bar(0, { kind: 'memory', size: 0x1000 }, r);
        return {};
      } };`,
      { host },
    );
    const dma = load(
      'esc-result-b',
      `module.exports.default = { ${pci(0x5a0b)}, create(ctx) {
        let where = 0;
        regs(ctx, (o, s, v) => {
          if (o === 4) { where = v; return; }
          attempt('=B writes into A', () => J.stringify(ctx.dma.writeU32LE(where, 1)));
          ctx.log.info(report());
        });
        return {};
      } };`,
      { host },
    );
    const lines: Line[] = [];
    const emu = emulator(lines);
    emu.addDevice(target);
    emu.addDevice(dma);
    const d = createDriver(emu);
    const barA = enable(d.pciFind(VENDOR, 0x5a0a)!);
    const barB = enable(d.pciFind(VENDOR, 0x5a0b)!);
    // The driver's own write gets the object back from the kernel and ignores it.
    expect(thrown(() => d.writel(barA, 1))).toBe('');
    d.writel(barB + 4, barA);
    d.writel(barB, 1);
    const ob = mustLog(lines, 'esc-result-b:');
    // A's membrane dropped the object without converting it: nobody ran its Symbol.toPrimitive,
    // so neither the kernel nor B ever saw anything of A's making.
    expect(ob['=B writes into A']).toBe('ok:"ok"');
    expect(logged(lines, 'esc-result-a:')).toBeUndefined();
    expect(hostEscapes()).toEqual([]);
  });

  // ESCAPE FOUND: DeviceGuard.fault (core/src/guard.ts) reads `error.stack` and calls
  // `String(error)` in the HOST realm on whatever a callback threw. A `stack` getter or a
  // Symbol.toPrimitive that is a Proxy function runs with a HOST argument list (the plain
  // functions of the test above run too, but get nothing). Repro (an MMIO
  // write handler): `throw { [Symbol.toPrimitive]: new Proxy(function () {}, { apply(t, s, args) {
  //   args.constructor.constructor('return process')(); return 'x'; } }) };`
  it('a callback throwing an object whose Symbol.toPrimitive is a Proxy function gets nothing of the host', () => {
    let o: Outcomes = {};
    thrown(() => {
      const rig = place(
        load(
          'esc-throw-prim',
          onKick(`
            throw { [Symbol.toPrimitive]: argTrap('thrown[Symbol.toPrimitive] args', () => { ctx.log.info(report()); return 'x'; }) };
          `),
        ),
      );
      thrown(() => rig.d.writel(rig.bar, 1));
      o = mustLog(rig.lines);
    });
    expect(o, 'the plugin ran and reported').not.toEqual({});
    expect(hostEscapes()).toEqual([]);
    expect(o['thrown[Symbol.toPrimitive] args'] ?? SAFE).toBe(SAFE);
  });

  // ESCAPE FOUND (from the guard's fault containment, not from the realm): `String(error)` in
  // DeviceGuard.fault throws for a value with no primitive conversion (a null-prototype
  // object, a Proxy), so the exception leaves the guard: the device is not quarantined and the
  // guest's MMIO access throws into whatever drove it (the driver, a CPU loop, qtest). Repro
  // (an MMIO write handler): `throw Object.create(null);` then `d.writel(bar, 1)` throws
  // "TypeError: Cannot convert object to primitive value".
  it('a callback throwing a value with no string conversion is still contained and quarantined', () => {
    // Safe values first, so a scenario that breaks for another reason cannot pass by accident.
    let msg = '';
    let quarantined = true;
    thrown(() => {
      const rig = place(load('esc-throw-null', onKick('throw Object.create(null);')));
      msg = thrown(() => rig.d.writel(rig.bar, 1));
      quarantined = rig.emu.machine.device('esc-throw-null0').scope.guard.quarantined;
    });
    expect(msg).toBe('');
    expect(quarantined).toBe(true);
  });

  it('saved state is re-made by realm code: a getter or a Proxy trap runs only in the realm, on realm values; function state is refused', () => {
    const plugin = load(
      'esc-save',
      `module.exports.default = { ${PCI}, create(ctx) {
        regs(ctx, () => {});
        let n = 0;
        return { saveState() {
          n++;
          if (n === 2) return new Px({}, { ownKeys() { ctx.log.info('touched:ownKeys'); return []; }, get() { ctx.log.info('touched:get'); } });
          if (n === 3) return { f() {} };
          const o = { n: 1 };
          Object.defineProperty(o, 'g', { enumerable: true, get: function () {
            note('=getter.argc', S(arguments.length));
            check('getter.arguments', arguments);
            note('=getter.this is the state', S(this === o));
            ctx.log.info(report());
            return 2;
          } });
          return o;
        } };
      } };`,
    );
    const lines: Line[] = [];
    const emu = emulator(lines);
    const running = emu.addDevice(plugin);
    expect(running.saveState()).toEqual({ version: 1, data: { n: 1, g: 2 } });
    const o = mustLog(lines);
    expect(o).toMatchObject({
      '=getter.argc': '0',
      '=getter.this is the state': 'true',
      'getter.arguments': SAFE,
    });
    // A Proxy cannot be told apart from inside the realm, so its traps run there, called by
    // the realm's own copy code with realm arguments; the host gets the plain copy.
    expect(running.saveState()).toEqual({ version: 1, data: {} });
    expect(lines.filter((l) => l.message.startsWith('touched:')).map((l) => l.message)).toEqual([
      'touched:ownKeys',
    ]);
    // A function is refused by the realm's copy, before the host's structuredClone sees it.
    expect(thrown(() => running.saveState())).toMatch(/may not hold a function/);
    expect(hostEscapes()).toEqual([]);
  });

  // ESCAPE FOUND: `RunningDevice.saveState` runs `structuredClone(data)` in the HOST realm on
  // what the plugin's saveState returned. A getter that is a Proxy function is called by the
  // host's serializer, and the apply trap's argument list is a HOST array (CreateArrayFromList
  // uses the caller's realm). Repro:
  //   saveState() { const o = {}; Object.defineProperty(o, 'x', { enumerable: true,
  //     get: new Proxy(function () {}, { apply(t, s, args) {
  //       return typeof args.constructor.constructor('return process')(); } }) }); return o; }
  it('a saved-state getter that is a Proxy function gets nothing of the host', () => {
    const lines: Line[] = [];
    thrown(() => {
      const plugin = load(
        'esc-save-proxy',
        `module.exports.default = { ${PCI}, create(ctx) {
          regs(ctx, () => {});
          return { saveState() {
            const o = { n: 1 };
            Object.defineProperty(o, 'g', { enumerable: true, get: argTrap('state.g<get> args', () => { ctx.log.info(report()); return 2; }) });
            return o;
          } };
        } };`,
      );
      const emu = emulator(lines);
      emu.addDevice(plugin).saveState();
    });
    expect(hostEscapes()).toEqual([]);
    expect(logged(lines)?.['state.g<get> args'] ?? SAFE).toBe(SAFE);
  });

  it('IOMMU translate entries with getters, Proxy getters and valueOf/toString traps are copied in the realm', () => {
    const mmu = load(
      'esc-entry',
      `module.exports.default = { kind: 'iommu', create(ctx) { return {
        translate(iova, access, req) {
          if (iova >= 0x50000000) {
            return { kind: 'fault', reason: { toString: argTrap('fault.reason.toString', () => 'not-present') },
              detail: { toString: argTrap('fault.detail.toString', () => { ctx.log.info(report()); return 'd'; }) } };
          }
          const e = { kind: 'entry' };
          Object.defineProperty(e, 'iova', { enumerable: true, get: function () {
            check('entry.iova<get>.arguments', arguments);
            note('=entry.iova<get>.argc', S(arguments.length));
            return 0x40000000;
          } });
          Object.defineProperty(e, 'translated', { enumerable: true, get: argTrap('entry.translated<get> args', () => 0x100000) });
          e.pageSize = { valueOf: argTrap('entry.pageSize.valueOf args', () => 4096) };
          e.perm = { toString: argTrap('entry.perm.toString args', () => { ctx.log.info(report()); return 'read-write'; }) };
          return e;
        },
      }; } };`,
      { kind: 'iommu', caps: [] },
    );
    const lines: Line[] = [];
    const emu = emulator(lines, 4 << 20);
    emu.addIommu(mmu, { id: 'mmu' });
    const m = emu.machine;
    const ctx = m.dma.createContext({ device: 'probe', bus: 'pci.0', requesterId: 0x10 });
    m.dma.bind({ bus: 'pci.0' }, 'mmu');
    m.memory.store(gpa(0x100004), 4, 0xdeadbeef);
    // Positive control: the translation the getters described is the one the kernel used.
    expect(ctx.readU32LE(iova(0x40000004))).toBe(0xdeadbeef);
    expect(ctx.readU32LE(iova(0x50000000))).toMatchObject({
      result: 'iommu-fault',
      reason: 'not-present',
    });
    const o = mustLog(lines);
    expect(Object.keys(o).sort()).toEqual(
      [
        '=entry.iova<get>.argc',
        'entry.iova<get>.arguments',
        'entry.translated<get> args',
        'entry.pageSize.valueOf args',
        'entry.perm.toString args',
        'fault.reason.toString',
        'fault.detail.toString',
      ].sort(),
    );
    expect(o['=entry.iova<get>.argc']).toBe('0');
    expect(unsafe(o)).toEqual([]);
    expect(hostEscapes()).toEqual([]);
  });

  // ESCAPE FOUND: Machine.attachDevice reports a failed realize with `String(e)` in the HOST
  // realm when `e` is not a host Error (every realm error is not). A thrown object whose
  // Symbol.toPrimitive is a Proxy function gets a HOST argument list. Repro:
  //   create() { throw { [Symbol.toPrimitive]: new Proxy(function () {}, { apply(t, s, args) {
  //     return typeof args.constructor.constructor('return process')(); } }) }; }
  it('create() throwing an object with a Proxy Symbol.toPrimitive gets nothing of the host', () => {
    const msg = thrown(() =>
      place(
        load(
          'esc-create-throw',
          `module.exports.default = { ${PCI}, create() {
            throw { [Symbol.toPrimitive]: argTrap('thrown[Symbol.toPrimitive] args', () => report()) };
          } };`,
        ),
      ),
    );
    expect(hostEscapes()).toEqual([]);
    expect(reportsIn(msg)?.['thrown[Symbol.toPrimitive] args'] ?? SAFE).toBe(SAFE);
  });

  // ESCAPE FOUND: device-host calls the plugin's `create` itself, from host code:
  // `plugin.realm.createDevice((c, st) => def.create(c, st), ...)`. `create` may be a Proxy
  // function (definePlugin and the shape check only ask typeof === 'function'); its apply
  // trap receives a HOST argument list. Same for IOMMU plugins (iommu-host). Repro:
  //   module.exports.default = { kind: 'device', pci: {...}, create: new Proxy(function () {}, {
  //     apply(t, s, args) { args.constructor.constructor('return process')(); return {}; } }) };
  it('a create that is a Proxy function is never called with a host argument list', () => {
    let o: Outcomes = {};
    thrown(() => {
      o = mustLog(
        place(
          load(
            'esc-create-proxy',
            `module.exports.default = { ${PCI}, create: new Px(function () {}, { apply(_t, _self, args) {
                check('create args', args);
                const ctx = args[0];
                regs(ctx, () => {});
                ctx.log.info(report());
                return {};
              } }) };`,
          ),
        ).lines,
      );
    });
    expect(o, 'the plugin ran and reported').not.toEqual({});
    expect(hostEscapes()).toEqual([]);
    expect(o['create args'] ?? SAFE).toBe(SAFE);
  });

  // ESCAPE FOUND: state.ts calls `def.migrateState!(from, data)` from host code when saved
  // state has another version; a Proxy-function migrateState gets a HOST argument list.
  // Repro: `stateVersion: 2, migrateState: new Proxy(function () {}, { apply(t, s, args) {
  //   args.constructor.constructor('return process')(); } })`, added with state version 1.
  it('a migrateState that is a Proxy function is never called with a host argument list', () => {
    let o: Outcomes = {};
    thrown(() => {
      o = mustLog(
        place(
          load(
            'esc-migrate',
            inCreate(
              '',
              ", stateVersion: 2, migrateState: argTrap('migrateState args', () => undefined)",
            ),
          ),
          { state: { version: 1, data: { a: 1 } } },
        ).lines,
      );
    });
    expect(o, 'the plugin ran and reported').not.toEqual({});
    expect(hostEscapes()).toEqual([]);
    expect(o['migrateState args'] ?? SAFE).toBe(SAFE);
  });

  // ESCAPE FOUND: the host's shape check reads `module.exports.default` (and `def.kind`,
  // `def.create`, `def.pci`, `def.options`, `def.stateVersion`) directly: a getter that is a
  // Proxy function runs at LOAD time with a HOST argument list, before any device exists.
  // Repro: `Object.defineProperty(module.exports, 'default', { get: new Proxy(function () {},
  //   { apply(t, s, args) { args.constructor.constructor('return process')(); return def; } }) })`.
  it('a getter on module.exports.default that is a Proxy function gets nothing of the host', () => {
    let o: Outcomes = {};
    thrown(() => {
      o = mustLog(
        place(
          load(
            'esc-default-getter',
            `const def = require('@emuhost/sdk').definePlugin({ ${PCI}, create(ctx) { regs(ctx, () => {}); ctx.log.info(report()); return {}; } });
              Object.defineProperty(module.exports, 'default', { enumerable: true, get: argTrap('exports.default<get> args', () => def) });`,
          ),
        ).lines,
      );
    });
    expect(o, 'the plugin ran and reported').not.toEqual({});
    expect(hostEscapes()).toEqual([]);
    expect(o['exports.default<get> args'] ?? SAFE).toBe(SAFE);
  });

  // ESCAPE FOUND: an error thrown while the bundle evaluates reaches plugin-host's
  // evalDiagnostic as is, which reads `err.name` / `err.message` / `err.stack` and calls
  // `String(...)` in the HOST realm: a `name` getter that is a Proxy function gets a HOST
  // argument list. Repro: `const e = new Error('x'); Object.defineProperty(e, 'name',
  //   { get: new Proxy(function () {}, { apply(t, s, args) { args.constructor.constructor(
  //   'return process')(); return 'E'; } }) }); throw e;`
  it('an evaluation error whose name getter is a Proxy function gets nothing of the host', () => {
    const msg = thrown(() =>
      load(
        'esc-eval-name',
        `const e = new Error('boom');
        Object.defineProperty(e, 'name', { get: argTrap('thrown.name<get> args', () => report()) });
        throw e;`,
      ),
    );
    expect(hostEscapes()).toEqual([]);
    expect(reportsIn(msg)?.['thrown.name<get> args'] ?? SAFE).toBe(SAFE);
  });

  // ESCAPE FOUND: the PCI identity is spread into the kernel as is (`{ ...def.pci }` in
  // device-host): the kernel coerces `vendorId` (DataView.setUint16) in the HOST realm, calling
  // the plugin's `valueOf`; a Proxy function there gets a HOST argument list. Repro:
  //   pci: { vendorId: { valueOf: new Proxy(function () {}, { apply(t, s, args) {
  //     args.constructor.constructor('return process')(); return 0x1234; } }) }, deviceId: 1, classCode: 0 }
  it('a PCI identity field with a Proxy valueOf is never coerced by the host', () => {
    // The description is copied by realm code, which takes numbers only: the plugin is refused
    // before anything calls its valueOf.
    const msg = thrown(() =>
      load(
        'esc-pci-valueof',
        `module.exports.default = { kind: 'device',
          pci: { vendorId: { valueOf: argTrap('pci.vendorId.valueOf args', () => ${VENDOR}) }, deviceId: ${DEVICE}, classCode: 0 },
          create(ctx) { regs(ctx, () => {}); ctx.log.info(report()); return {}; } };`,
      ),
    );
    expect(msg).toMatch(/pci\.vendorId must be a number/);
    expect(hostEscapes()).toEqual([]);
  });

  // ESCAPE FOUND: confined.ts pastes the bundle into `(function (exports, require, module) {
  // ${code} })` and calls the compartment's completion value from host code. A bundle that
  // closes the wrapper early makes that value a Proxy function, and the host calls it with a
  // HOST argument list. Repro (the whole bundle):
  //   }), 0; (new Proxy(function () {}, { apply(t, s, args) {
  //     args.constructor.constructor('return process')(); } }) || function () {
  it('a bundle that closes the CommonJS wrapper early cannot make the host call its Proxy', () => {
    const msg = thrown(() =>
      load(
        'esc-wrapper',
        `}), 0; ((() => { ${KIT}
          return new Px(function () {}, { apply(_t, _self, args) { check('wrapper args', args); throw new Error(report()); } });
        })() || function () {`,
        { raw: true },
      ),
    );
    expect(hostEscapes()).toEqual([]);
    expect(reportsIn(msg)?.['wrapper args'] ?? SAFE).toBe(SAFE);
  });

  // ESCAPE FOUND: machine plugins have no membrane: buildMachine calls `def.create(ctx)` with
  // the HOST MachineContext whatever the plugin's level (PluginRealm has no createMachine), so
  // a machine plugin loaded with `level: 'confined'` gets `ctx.constructor.constructor`, the
  // host's Function. Repro: loadCode({ ..., kind: 'machine' }, `module.exports.default =
  //   { kind: 'machine', create(ctx) { ctx.constructor.constructor('return process')(); } }`,
  //   { level: 'confined' }), then `new Emulator({ machine: plugin, ... })`.
  it('a machine plugin at the confined level gets no host object', () => {
    const msg = thrown(
      () =>
        new Emulator({
          machine: load(
            'esc-machine',
            `module.exports.default = { kind: 'machine', create(ctx) {
              checkTree('machine ctx', ctx);
              throw new Error(report());
            } };`,
            { kind: 'machine', caps: [] },
          ),
          ramSize: 1 << 20,
          log: () => {},
        }),
    );
    expect(hostEscapes()).toEqual([]);
    expect(unsafe(reportsIn(msg) ?? {})).toEqual([]);
  });
});
