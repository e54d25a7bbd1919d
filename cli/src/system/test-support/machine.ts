/**
 * The `rvtest` fixture machine in this process, with one rv64 hart (the bundled CPU plugin)
 * running a guest image, and its serial output collected: for tests that drive the run loop,
 * the monitor and the GDB stub without spawning the CLI.
 */
import { fileURLToPath } from 'node:url';
import type { SchedulerOptions } from '@emuhost/core';
import {
  CharChannel,
  Emulator,
  inProcessPlugin,
  type LoadedPlugin,
  loadBundled,
  PluginHost,
  RunLoop,
  type RunLoopOptions,
} from '@emuhost/host';
import rvtest from '../__fixtures__/rvtest/src/index.js';

export const RVTEST_DIR = fileURLToPath(new URL('../__fixtures__/rvtest', import.meta.url));

const machine = inProcessPlugin(
  {
    id: 'rvtest',
    version: '1.0.0',
    kind: 'machine',
    sdk: '^1.4.0',
    entry: 'src/index.ts',
    capabilities: [],
  },
  rvtest,
);

/** The bundled CPU plugin, built once per test process. */
let rv64: Promise<LoadedPlugin> | undefined;

export interface TestMachine {
  readonly emu: Emulator;
  readonly loop: RunLoop;
  readonly serial: CharChannel;
  /** Everything the guest wrote to its UART so far. */
  output(): string;
}

export async function testMachine(
  image: Uint8Array,
  opts: RunLoopOptions & { smp?: number } = {},
  scheduler?: SchedulerOptions,
): Promise<TestMachine> {
  rv64 ??= loadBundled(new PluginHost(), 'rv64');
  const cpu = await rv64;
  let out = '';
  let loop: RunLoop | undefined;
  const serial = new CharChannel({
    output: (b) => {
      out += Buffer.from(b).toString('latin1');
    },
    onInput: () => loop?.wake(),
  });
  const emu = new Emulator({
    machine,
    ramSize: 1 << 20,
    cpu: { plugin: cpu },
    smp: opts.smp ?? 1,
    firmware: { bios: image },
    serial: (i) => (i === 0 ? serial : undefined),
    ...(scheduler !== undefined && { scheduler }),
  });
  loop = new RunLoop(emu, opts);
  return { emu, loop, serial, output: () => out };
}
