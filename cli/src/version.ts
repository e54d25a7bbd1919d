/** The emuhost version `--version` prints: the CLI package's own, read from its package.json. */
import { createRequire } from 'node:module';

export const VERSION: string = (
  createRequire(import.meta.url)('@emuhost/cli/package.json') as { version: string }
).version;
