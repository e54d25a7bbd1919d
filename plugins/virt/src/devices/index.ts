/**
 * The devices QEMU's RISC-V virt machine builds itself (not `-device` plugins): one class per
 * file, each with its MMIO callbacks and access rules, its size, a reset and plain-data state.
 * The machine instantiates them with the SDK handles they need and wires their interrupt
 * outputs, which are plain setters.
 *
 * - `aclint.ts`: `Clint`, the CLINT (`sifive,clint0`): MSWI and MTIMER, MSIP/MTIP per hart.
 * - `plic.ts`: `Plic` (`sifive,plic-1.0.0`): 95 level-triggered sources, M and S contexts.
 * - `uart16550.ts`: `Uart16550` (`ns16550a`), a `CharFrontend` on the machine's serial backend.
 * - `sifive-test.ts`: `SifiveTest` (`sifive,test1`): poweroff and reboot requests.
 * - `goldfish-rtc.ts`: `GoldfishRtc` (`google,goldfish-rtc`): wall-clock time and an alarm.
 * - `device.ts`: `VirtDevice`, what they all offer the machine.
 * - `irq-line.ts`: `IrqSetter`, an interrupt output, and `IrqLine`, which reports only changes.
 * - `saved-state.ts`: checked reading of saved state; timer deadlines.
 */

export {
  CLINT_MAX_HARTS,
  CLINT_SIZE,
  Clint,
  type ClintHartOutputs,
  type ClintOptions,
  type ClintState,
  DEFAULT_TIMEBASE,
} from './aclint.js';
export type { VirtDevice } from './device.js';
export {
  GOLDFISH_RTC_SIZE,
  GoldfishRtc,
  type GoldfishRtcOptions,
  type RtcState,
} from './goldfish-rtc.js';
export { IrqLine, type IrqSetter } from './irq-line.js';
export {
  PLIC_MAX_CONTEXTS,
  PLIC_SIZE,
  Plic,
  type PlicOptions,
  type PlicState,
  VIRT_PLIC_MAX_PRIORITY,
  VIRT_PLIC_SOURCES,
} from './plic.js';
export {
  type ShutdownRequest,
  SIFIVE_TEST_SIZE,
  SifiveTest,
  type SifiveTestOptions,
} from './sifive-test.js';
export {
  UART_SIZE,
  Uart16550,
  type Uart16550Options,
  type UartState,
  VIRT_UART_BAUDBASE,
} from './uart16550.js';
