import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTrustedRealm, type PluginRealm } from '@emuhost/sandbox';
import { type GuestPhysAddr, SDK_VERSION } from '@emuhost/sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import { bareMachine } from './bare-machine.js';
import { buildPlugin } from './build.js';
import { addDevice } from './device-host.js';
import { formatDiagnostics, type PluginLoadError } from './diagnostics.js';
import { Emulator } from './emulator.js';
import type { PluginFailure } from './hooks.js';
import { defaultLevel, PluginHost } from './plugin-host.js';
import { configIo, testMachine } from './test-machine.js';

const FIXTURE = new URL('./__fixtures__/dma-copy', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'emuhost-host-'));
const phys = (n: number) => n as GuestPhysAddr;

const manifest = (over: Record<string, unknown> = {}) => ({
  id: 'inline',
  version: '1.0.0',
  kind: 'device',
  sdk: '^1.0.0',
  entry: './inline.js',
  capabilities: ['pci'],
  ...over,
});
const PCI_DEVICE = `const { definePlugin } = require('@emuhost/sdk');
module.exports.default = definePlugin({ kind: 'device', pci: { vendorId: 1, deviceId: 2, classCode: 0 }, create: () => ({}) });`;

function codeOf(f: () => unknown): { code: string; error: PluginLoadError } {
  try {
    f();
  } catch (e) {
    return { code: (e as PluginLoadError).code, error: e as PluginLoadError };
  }
  throw new Error('expected an error');
}

async function buildError(dir: string): Promise<PluginLoadError> {
  return buildPlugin(dir).then(
    () => {
      throw new Error('expected the build to fail');
    },
    (e: unknown) => e as PluginLoadError,
  );
}

let built: Awaited<ReturnType<typeof buildPlugin>>;
beforeAll(async () => {
  built = await buildPlugin(FIXTURE, { outDir: join(tmp, 'dma-copy') });
});

describe('building a plugin', () => {
  it('writes one CommonJS bundle with the SDK external, a source map, a metafile and the built manifest', () => {
    const code = readFileSync(built.bundlePath, 'utf8');
    expect(code).toContain('require("@emuhost/sdk")');
    expect(code).toMatch(/sourceMappingURL=dma-copy\.js\.map/);
    expect(built.manifest).toMatchObject({
      id: 'dma-copy',
      entry: './dma-copy.js',
      builtWithSdk: SDK_VERSION,
    });
    expect(Object.keys(built.metafile.inputs)).toEqual(['src/index.ts']);
  });

  it('is reproducible: the same input gives the same bytes', async () => {
    const again = await buildPlugin(FIXTURE, { outDir: join(tmp, 'dma-copy-again') });
    expect(readFileSync(again.bundlePath)).toEqual(readFileSync(built.bundlePath));
    expect(readFileSync(`${again.bundlePath}.map`)).toEqual(
      readFileSync(`${built.bundlePath}.map`),
    );
  });

  it('an error thrown while the bundle is evaluated names the source file and line, through its source map', async () => {
    const dir = join(tmp, 'throws-at-load');
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(
      join(dir, 'emuhost.plugin.json'),
      JSON.stringify(manifest({ id: 'throws-at-load', entry: 'src/index.ts' })),
    );
    writeFileSync(
      join(dir, 'src', 'index.ts'),
      "import { table } from './regs';\nexport default table;\n",
    );
    writeFileSync(
      join(dir, 'src', 'regs.ts'),
      "export const table = [1, 2];\nif (table.length < 3) throw new RangeError('table too short');\n",
    );
    const b = await buildPlugin(dir);
    const e = codeOf(() => new PluginHost().loadFile(b.manifestPath)).error;
    expect(e.code).toBe('E_PLUGIN_EVAL');
    expect(e.diagnostics[0]!.location).toMatchObject({
      file: join(dir, 'src', 'regs.ts'),
      line: 2,
      lineText: "if (table.length < 3) throw new RangeError('table too short');",
    });
    expect(formatDiagnostics(e.diagnostics)).toContain('src/regs.ts:2:');
  });

  it('refuses a Node builtin import, naming the import and the file that made it', async () => {
    const dir = join(tmp, 'sneaky');
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(
      join(dir, 'emuhost.plugin.json'),
      JSON.stringify(manifest({ id: 'sneaky', entry: 'src/index.ts' })),
    );
    writeFileSync(join(dir, 'src', 'index.ts'), "import './helper';\n");
    writeFileSync(
      join(dir, 'src', 'helper.ts'),
      "import { execSync } from 'node:child_process';\nexecSync('id');\n",
    );
    const e = await buildError(dir);
    expect(e.code).toBe('E_PLUGIN_BUILD');
    expect(e.diagnostics[0]).toMatchObject({
      text: "'node:child_process' cannot be imported by a plugin: it is a Node builtin",
      location: { file: join(dir, 'src', 'helper.ts'), line: 1 },
    });
    writeFileSync(
      join(dir, 'src', 'helper.ts'),
      "import fs from 'fs';\nimport '@emuhost/core';\nfs;\n",
    );
    const e2 = await buildError(dir);
    expect(e2.diagnostics.map((d) => d.text)).toEqual([
      "'fs' cannot be imported by a plugin: it is a Node builtin",
      "'@emuhost/core' cannot be imported by a plugin: plugins depend on the SDK only",
    ]);
  });
});

describe('loading and running a device plugin', () => {
  it('loads the bundle, places the device on PCI, and its DMA, timer and IRQ work', () => {
    const host = new PluginHost();
    const plugin = host.loadFile(built.manifestPath);
    expect(plugin.sdkVersion).toBe(SDK_VERSION);
    const m = testMachine();
    const dev = addDevice(m, plugin, {
      id: 'copy0',
      placement: { kind: 'pci', bus: 'pci.0' },
      options: { delay_ns: '0x100' },
    });
    expect(dev.slot.pci!.devfn).toBe(2 << 3);
    const cfg = configIo(m);
    expect(cfg.read(0x10, 0, 4)).toBe(0xbeef1234);
    cfg.write(0x10, 0x10, 4, 0xe0000000);
    cfg.write(0x10, 0x04, 2, 0x6);
    m.memory.write(phys(0x1000), Uint8Array.of(1, 2, 3, 4));
    m.memory.store(phys(0xe0000000), 4, 0x1000);
    m.memory.store(phys(0xe0000004), 4, 0x2000);
    m.memory.store(phys(0xe0000008), 4, 4);
    m.memory.store(phys(0xe000000c), 4, 1);
    m.clock.step(0xff);
    expect(m.memory.load(phys(0x2000), 4)).toBe(0);
    m.clock.step(1);
    expect(m.memory.load(phys(0x2000), 4)).toBe(0x04030201);
    expect(m.memory.load(phys(0xe0000010), 4)).toBe(0);
    expect(m.interruptControllers.get('ioapic')!.levels[16 + 2]).toBe(1);
    expect(dev.saveState()).toEqual({ version: 1, data: [0x1000, 0x2000, 4, 0, 0] });
  });

  it('places a platform device with DMA: it masters the platform bus with a stream id', () => {
    const host = new PluginHost();
    const code = `const { definePlugin, iova } = require('@emuhost/sdk');
module.exports.default = definePlugin({ kind: 'device', platform: true, create(ctx) {
  const r = ctx.mmio('regs', 4, {
    read: () => 0,
    write: (_o, _s, v) => void ctx.dma.write(iova(0x3000), Uint8Array.of(Number(v))),
  });
  ctx.platform.map(r, 0xfe000000);
  return {};
} });`;
    const plugin = host.loadCode(manifest({ id: 'pdma', capabilities: ['platform', 'dma'] }), code);
    const emu = new Emulator({ machine: bareMachine(), ramSize: 1 << 20, log: () => {} });
    const dev = emu.addDevice(plugin, { platform: true, id: 'p0' });
    emu.machine.memory.store(phys(0xfe000000), 4, 0x5a);
    expect(emu.machine.memory.load(phys(0x3000), 1)).toBe(0x5a);
    expect(dev.slot.scope.dmaContexts[0]!.requester).toMatchObject({ bus: 'platform' });
  });

  it('saves the state of every device, keyed by device id and versioned, and resumes from it', () => {
    const plugin = new PluginHost().loadFile(built.manifestPath);
    const emu = new Emulator({ machine: bareMachine(), ramSize: 1 << 20, log: () => {} });
    const a = emu.addDevice(plugin);
    emu.addDevice(plugin);
    const drv = configIo(emu.machine);
    drv.write(a.slot.pci!.devfn, 0x10, 4, 0xe0000000);
    drv.write(a.slot.pci!.devfn, 0x04, 2, 0x2);
    emu.machine.memory.store(phys(0xe0000000), 4, 0x1234);
    const all = emu.saveState();
    expect(all).toEqual({
      'dma-copy0': { plugin: 'dma-copy', version: 1, data: [0x1234, 0, 0, 0, 0] },
      'dma-copy1': { plugin: 'dma-copy', version: 1, data: [0, 0, 0, 0, 0] },
    });
    const other = new Emulator({ machine: bareMachine(), ramSize: 1 << 20, log: () => {} });
    expect(
      other.addDevice(plugin, { id: 'dma-copy0', state: all['dma-copy0']! }).saveState().data,
    ).toEqual([0x1234, 0, 0, 0, 0]);
  });

  it('a handle leaked from a removed device is revoked, and never reaches the machine', () => {
    const host = new PluginHost();
    // The first device leaks its DMA handle into the realm; the second reports, in its
    // register, what happens when it is used after the first device is gone.
    host.loadCode(
      manifest({ capabilities: ['pci', 'dma'] }),
      `const { definePlugin } = require('@emuhost/sdk');
       module.exports.default = definePlugin({ kind: 'device', pci: { vendorId: 1, deviceId: 2, classCode: 0 },
         create(ctx) {
           if (globalThis.leaked === undefined) globalThis.leaked = ctx.dma;
           const r = ctx.mmio('r', 0x100, { write() {}, read() {
             try { globalThis.leaked.writeU8(0x100, 0x55); return 1; }
             catch (e) { return e.code === 'E_REVOKED' ? 0x7e : 2; }
           } });
           ctx.pci.bar(0, { kind: 'memory', size: 0x100 }, r);
           return {};
         } });`,
    );
    const m = testMachine();
    const plugin = host.get('inline')!;
    addDevice(m, plugin, { id: 'd0', placement: { kind: 'pci', bus: 'pci.0' } });
    const d1 = addDevice(m, plugin, { id: 'd1', placement: { kind: 'pci', bus: 'pci.0' } });
    m.detachDevice('d0');
    const cfg = configIo(m);
    cfg.write(d1.slot.pci!.devfn, 0x10, 4, 0xe0000000);
    cfg.write(d1.slot.pci!.devfn, 0x04, 2, 0x2);
    expect(m.memory.load(phys(0xe0000000), 4)).toBe(0x7e);
    expect(m.memory.load(phys(0x100), 1)).toBe(0);
  });

  it('refuses a handle the manifest did not declare', () => {
    const host = new PluginHost();
    const plugin = host.loadCode(
      manifest(),
      `const { definePlugin } = require('@emuhost/sdk');
       module.exports.default = definePlugin({ kind: 'device', pci: { vendorId: 1, deviceId: 2, classCode: 0 }, create: (ctx) => { ctx.dma; return {}; } });`,
    );
    expect(() =>
      addDevice(testMachine(), plugin, { id: 'd0', placement: { kind: 'pci', bus: 'pci.0' } }),
    ).toThrow(/E_DEVICE_REALIZE.*needs the 'dma' capability/);
  });

  it('refuses unknown options and badly typed ones', () => {
    const plugin = new PluginHost().loadFile(built.manifestPath);
    const add = (options: Record<string, string>) => () =>
      addDevice(testMachine(), plugin, {
        id: 'c',
        placement: { kind: 'pci', bus: 'pci.0' },
        options,
      });
    expect(add({ delay: '1' })).toThrow(
      "E_OPTION: 'dma-copy' has no option 'delay' (options: delay_ns)",
    );
    expect(add({ delay_ns: 'soon' })).toThrow(/must be a number, not "soon"/);
  });
});

describe('every bad input is a clear error with a stable code, and the host goes on', () => {
  it('a missing or malformed manifest', () => {
    const host = new PluginHost();
    expect(codeOf(() => host.loadFile(join(tmp, 'nowhere', 'emuhost.plugin.json'))).code).toBe(
      'E_MANIFEST',
    );
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, '{\n  "id": "x",\n  "version": 1.0.0\n}\n');
    const { error } = codeOf(() => host.loadFile(bad));
    expect(error.code).toBe('E_MANIFEST');
    expect(error.diagnostics[0]!.location).toMatchObject({ file: bad, line: 3 });
  });

  it('an unknown kind, an invalid range, a misspelt field: all reported at once, each at its line', () => {
    const f = join(tmp, 'many.json');
    writeFileSync(
      f,
      JSON.stringify(
        { id: 'x', version: '1.0.0', kind: 'gpu', sdk: 'one', entry: 'x.js', capabilites: [] },
        null,
        2,
      ),
    );
    const { error } = codeOf(() => new PluginHost().loadFile(f));
    expect(error.diagnostics.map((d) => d.text)).toEqual([
      'unknown kind "gpu"',
      '"sdk" must be a semver range such as "^1.0.0", not "one"',
      'missing "capabilities" (an array, possibly empty)',
      'unknown field "capabilites"',
    ]);
    expect(error.diagnostics[3]!.notes).toEqual([{ text: 'did you mean "capabilities"?' }]);
    expect(formatDiagnostics(error.diagnostics)).toContain(
      `${f}:4:2: error: [x] unknown kind "gpu"`,
    );
  });

  it('an SDK range this host cannot satisfy says whether the plugin is too new or too old', () => {
    const host = new PluginHost();
    const tooNew = codeOf(() => host.loadCode(manifest({ sdk: '^2.0.0' }), PCI_DEVICE)).error;
    expect(tooNew.code).toBe('E_SDK_RANGE');
    expect(tooNew.message).toContain(
      `plugin 'inline' requires @emuhost/sdk@^2.0.0, but this host serves ${SDK_VERSION}`,
    );
    expect(tooNew.diagnostics[0]!.notes[0]!.text).toMatch(/too new for this host/);
    const tooOld = codeOf(() => host.loadCode(manifest({ sdk: '^0.1.0' }), PCI_DEVICE)).error;
    expect(tooOld.diagnostics[0]!.notes[0]!.text).toMatch(/too old for this host/);
  });

  it('a future major can be served beside v1 without breaking v1 plugins', () => {
    const host = new PluginHost();
    const v2Runtime = `module.exports = { SDK_VERSION: '2.0.0', definePlugin: (d) => Object.freeze({ ...d, stateVersion: 99 }) };`;
    host.sdk.serve({ version: '2.0.0', code: v2Runtime });
    const v1 = host.loadCode(manifest({ id: 'old' }), PCI_DEVICE);
    const v2 = host.loadCode(manifest({ id: 'new', sdk: '^2.0.0' }), PCI_DEVICE);
    expect([v1.sdkVersion, v2.sdkVersion]).toEqual([SDK_VERSION, '2.0.0']);
    // Each plugin's definePlugin came from its own major: only v2's stamps the description.
    expect(v2.definition.stateVersion).toBe(99);
    expect(v1.definition.stateVersion).not.toBe(99);
  });

  it('a bundle built against another SDK major is refused even when its range admits this one', () => {
    const e = codeOf(() =>
      new PluginHost().loadCode(manifest({ sdk: '>=1.0.0', builtWithSdk: '2.1.0' }), PCI_DEVICE),
    ).error;
    expect(e.code).toBe('E_SDK_RANGE');
    expect(e.message).toContain(
      `plugin 'inline' was built with @emuhost/sdk 2.1.0, but its range >=1.0.0 chose ${SDK_VERSION}`,
    );
  });

  it('a bundle that exports no plugin, one of the wrong kind, one that throws, one with a syntax error', () => {
    const host = new PluginHost();
    expect(
      codeOf(() => host.loadCode(manifest(), 'module.exports = 42;')).error.diagnostics[0]!.text,
    ).toMatch(/does not export a plugin/);
    expect(
      codeOf(() => host.loadCode(manifest({ kind: 'iommu' }), PCI_DEVICE)).error.diagnostics[0]!
        .text,
    ).toBe("the manifest says kind 'iommu' but the plugin is 'device'");
    const threw = codeOf(() => host.loadCode(manifest(), "throw new TypeError('nope');")).error;
    expect(threw.code).toBe('E_PLUGIN_EVAL');
    expect(threw.message).toContain('TypeError: nope');
    const syntax = codeOf(() =>
      host.loadCode(manifest(), 'const a = 1;\nconst b = ;\n', { file: '/x/broken.js' }),
    ).error;
    expect(syntax.code).toBe('E_PLUGIN_EVAL');
    expect(syntax.diagnostics[0]!.location).toMatchObject({
      file: '/x/broken.js',
      line: 2,
      lineText: 'const b = ;',
    });
    const shape = codeOf(() =>
      host.loadCode(
        manifest(),
        "const { definePlugin } = require('@emuhost/sdk'); module.exports.default = definePlugin({ kind: 'disk' });",
      ),
    ).error;
    expect(shape.code).toBe('E_PLUGIN_EVAL');
    expect(shape.message).toMatch(/E_PLUGIN_SHAPE: kind must be/);
    expect(codeOf(() => host.loadCode(manifest(), "require('fs')")).error.message).toMatch(
      /may require only '@emuhost\/sdk', not 'fs'/,
    );
    expect(host.list()).toEqual([]);
  });

  it('two plugins with the same id: the second is refused, the first goes on', () => {
    const host = new PluginHost();
    const failures: PluginFailure[] = [];
    host.hooks.plugin.failed.tap('test', (f) => void failures.push(f));
    const first = host.loadCode(manifest(), PCI_DEVICE);
    expect(codeOf(() => host.loadCode(manifest(), PCI_DEVICE)).code).toBe('E_DUPLICATE_ID');
    expect(host.get('inline')).toBe(first);
    expect(failures.map((f) => [f.plugin, f.phase])).toEqual([['inline', 'register']]);
  });

  it('bundles from outside the repository default to the isolated level (the one that can stop them), ours to trusted', () => {
    expect(defaultLevel(FIXTURE)).toBe('trusted');
    expect(defaultLevel('/opt/vendor/plugins/gpu.js')).toBe('isolated');
    expect(defaultLevel(join(tmp, 'x.js'))).toBe('isolated');
    const plugin = new PluginHost().loadFile(built.manifestPath);
    expect(plugin.level).toBe('isolated');
    plugin.realm.dispose();
  });

  it('with warmIsolated, an isolated load takes a realm started ahead and starts the next', () => {
    const made: PluginRealm[] = [];
    const host = new PluginHost({
      warmIsolated: true,
      realms: {
        isolated: () => {
          const r = createTrustedRealm();
          made.push(r);
          return r;
        },
      },
    });
    const first = host.loadCode(manifest(), PCI_DEVICE, { level: 'isolated' });
    expect(made).toHaveLength(2);
    expect(first.realm).toBe(made[0]);
    const second = host.loadCode(manifest(), PCI_DEVICE, { level: 'isolated', replace: true });
    expect(second.realm, 'the spare').toBe(made[1]);
    expect(made).toHaveLength(3);
    host.close();
    expect(made[2]!.ended).toBe('disposed');
  });

  it('load and unload are hooks', () => {
    const host = new PluginHost();
    const seen: string[] = [];
    host.hooks.plugin.loaded.tap('t', (p) => void seen.push(`loaded ${p.manifest.id}`));
    host.hooks.plugin.unloaded.tap('t', (p) => void seen.push(`unloaded ${p.manifest.id}`));
    host.loadCode(manifest(), PCI_DEVICE);
    host.unload('inline');
    expect(seen).toEqual(['loaded inline', 'unloaded inline']);
  });
});
