/**
 * `emuhost`: the command line. Each subcommand is one file (in `commands/`, or beside what it
 * drives: `fuzz/command.ts`, `qtest/launch.ts`); this file wires
 * them to commander and turns host-side errors into a clear message and exit code 1, never a
 * stack trace.
 *
 * Commands are imported when they run (`import()`), so that `--help`, `--version` and a
 * mistyped option load commander and nothing else: the built CLI splits each command into a
 * chunk of its own (scripts/build-packages.mjs), and `npx emuhost` starts in tens of ms.
 */
import { EmuhostError } from '@emuhost/sdk';
import { Command } from 'commander';
import type { FuzzCommandOptions } from './fuzz/command.js';
import { startExitGuard } from './signals.js';
import { VERSION } from './version.js';

const program = new Command('emuhost')
  .description(
    'A plugin-hosting emulator framework: devices, IOMMUs and machines as sandboxed plugins.',
  )
  .version(VERSION, '-V, --version')
  .showHelpAfterError();

program
  .command('build')
  .description(
    'bundle one plugin with esbuild (SDK external, sourcemap, metafile) and write its built manifest',
  )
  .argument('<plugin-dir>', 'a directory with emuhost.plugin.json')
  .option('-o, --out <dir>', 'output directory (default: <plugin-dir>/dist)')
  .action(async (dir: string, o: { out?: string }) =>
    (await import('./commands/build.js')).buildCommand(dir, o),
  );

program
  .command('new')
  .description('scaffold a plugin that builds, loads and passes its own tests')
  .argument('<kind>', 'device or iommu')
  .argument('<name>', 'the plugin id: lowercase letters, digits and -')
  .option('-d, --dir <dir>', 'where to create it (default: plugins/<name>)')
  .action(async (kind: string, name: string, o: { dir?: string }) =>
    (await import('./commands/new.js')).newCommand(kind, name, o),
  );

program
  .command('info')
  .description(
    "QEMU's info views of a machine file's machine as built: mtree, mtree -f, pci, iommu, and emuhost's devices",
  )
  .argument('<machine-file>', 'a JSON machine file')
  .argument('[view...]', 'one view (default: all)')
  .action(async (file: string, view: string[]) =>
    (await import('./commands/info.js')).infoCommand(file, view),
  );

program
  .command('snapshot')
  .description(
    'whole-machine snapshots: save or load FILE in a running emuhost-system-* through its monitor, or info FILE (checked, listed)',
  )
  .argument('<action>', 'save, load or info')
  .argument('<file>', 'the snapshot file')
  .option('--monitor <address>', "the running machine's monitor: unix:PATH or tcp:HOST:PORT")
  .action(async (action: string, file: string, o: { monitor?: string }) => {
    process.exitCode = await (await import('./commands/snapshot.js')).snapshotCommand(
      action,
      file,
      o,
    );
  });

program
  .command('run')
  .description(
    'run a machine with the demo driver: PCI, edu, DMA through a VT-d IOMMU programmed in guest memory, an IOMMU fault',
  )
  .argument('[machine-file]', 'a machine file (default: cli/machines/demo.json)')
  .action(async (file: string | undefined) => {
    process.exitCode = await (await import('./commands/run.js')).runCommand(file);
  });

program
  .command('dev')
  .description(
    'hot reload: build the watched plugins, run the machine, and replace their live instances on every source change',
  )
  .argument('[machine-file]', 'a machine file (default: q35 with the watched device plugins)')
  .addHelpText(
    'after',
    '\nWith a guest: emuhost dev --watch DIR... -- <qemu-system-riscv64 options> boots that machine with its console on the terminal (as emuhost-system-riscv64 ... --watch DIR)',
  )
  .requiredOption('-w, --watch <plugin-dir...>', 'plugin directories to build, run and watch')
  .option(
    '--qtest <chardev>',
    'serve qtest on the running machine, across reloads: unix:PATH[,server=on] | tcp:HOST:PORT[,server=on] | stdio',
  )
  .option(
    '--commands',
    'read commands on stdin (the default when stdin is a terminal): swap bus=NAME[,rid=A-B]|device=ID PLUGIN|ID|none [key=value...]',
  )
  .action(
    async (file: string | undefined, o: { watch: string[]; qtest?: string; commands?: boolean }) =>
      (await import('./commands/dev.js')).devCommand(file, o),
  );

program
  .command('fuzz')
  .description(
    'random guest operation sequences against every machine × device × IOMMU combination; a failure is written as a minimized qtest script',
  )
  .option('-s, --seed <n>', 'run seed (default: from the clock; printed)')
  .option('-n, --ops <n>', 'operations in all (default 100000)')
  .option('-c, --combo <machine+device+iommu...>', 'only these combinations (e.g. q35+edu+vtd)')
  .option('-o, --out <dir>', 'where failure scripts go (default fuzz-out)')
  .option('-t, --time <seconds>', 'stop after this long')
  .action(async (o: FuzzCommandOptions) => {
    process.exitCode = await (await import('./fuzz/command.js')).fuzzCommand(o);
  });

program
  .command('qtest')
  .description(
    "a qtest target: QEMU's options as qemu-system-x86_64 -qtest takes them (see emuhost qtest -help)",
  )
  .helpOption(false)
  .allowUnknownOption()
  .allowExcessArguments();

// The commands that run a machine until a signal ends them: a signal ends them within a
// second, even while plugin code does not return (signals.ts).
if (process.argv[2] === 'qtest' || process.argv[2] === 'dev') startExitGuard();

const dashes = process.argv.indexOf('--');
try {
  // QEMU's single-dash options are not POSIX: `qtest` takes the rest of the line untouched.
  // So does `dev --watch DIR... -- <qemu-system-riscv64 argv>`: the system emulator, watching.
  if (process.argv[2] === 'dev' && dashes > 0)
    process.exitCode = await (await import('./system/launch.js')).runSystem(
      [...process.argv.slice(dashes + 1), ...watchArgs(process.argv.slice(3, dashes))],
      process,
      { arch: 'riscv64', name: 'emuhost dev' },
    );
  else if (process.argv[2] === 'qtest')
    process.exitCode = await (await import('./qtest/launch.js')).runQtest(
      process.argv.slice(3),
      process,
    );
  else await program.parseAsync(process.argv);
} catch (e) {
  // The host (for its diagnostics' format) only when there is an error to print.
  const { formatDiagnostics, PluginLoadError } = await import('@emuhost/host');
  if (e instanceof PluginLoadError) {
    process.stderr.write(`${formatDiagnostics(e.diagnostics)}\n`);
  } else if (e instanceof EmuhostError) {
    process.stderr.write(`emuhost: ${e.message}\n`);
  } else {
    throw e;
  }
  process.exitCode = 1;
}

/** `-w A B --watch C` (before the `--`) as the system front end's `--watch A --watch B ...`. */
function watchArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  let on = false;
  for (const a of argv) {
    if (a === '-w' || a === '--watch') on = true;
    else if (a.startsWith('--watch=')) out.push('--watch', a.slice(8));
    else if (a.startsWith('-'))
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `emuhost dev: ${a} does not go with a QEMU command line (after --)`,
      );
    else if (on) out.push('--watch', a);
    else
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `emuhost dev: a machine file (${a}) does not go with a QEMU command line (after --)`,
      );
  }
  if (out.length === 0)
    throw new EmuhostError('E_BAD_ARGUMENT', 'emuhost dev needs at least one --watch <plugin-dir>');
  return out;
}
