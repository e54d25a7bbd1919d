#!/usr/bin/env node
// `emuhost`: the command line (src/main.ts, built to dist/main.js).
import { launch } from './launch.mjs';

await launch('main.js');
