/** `npm start`: what `emuhost run` does with no argument — the demo machine and its driver. */
import { runCommand } from './commands/run.js';

process.exitCode = await runCommand(undefined);
