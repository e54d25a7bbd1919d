#!/usr/bin/env node
// `npm run test:qemu`: runs QEMU's own qtest programs (built by scripts/qemu-tests/build.sh,
// outside the repository) against emuhost's drop-in, `cli/bin/emuhost-system-x86_64.mjs`.
//
//   npm run test:qemu                  # every program, every case
//   npm run test:qemu -- i440fx pam    # only cases whose path contains one of the words
//
// Each case runs in its own process (`PROGRAM --tap -k -p PATH`): a failed g_assert aborts the
// whole program, which would hide the cases after it. A table of pass/fail/skip with each
// failure's reason follows; the full output of every case (the test's and emuhost's stderr)
// is kept in WORK/logs/. Exits 1 on a failure, 2 when the programs are not built.
//
// Environment: EMUHOST_QEMU_DIR (build.sh's work dir, default ~/.cache/emuhost-qemu),
// EMUHOST_QEMU_TIMEOUT (seconds per program, default 120), QTEST_LOG=1 (libqtest prints the
// qtest traffic into the logs), EMUHOST_QEMU_VERBOSE=1 (stream every case's output).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WORK = process.env.EMUHOST_QEMU_DIR ?? path.join(os.homedir(), '.cache/emuhost-qemu');
const TIMEOUT_MS = Number(process.env.EMUHOST_QEMU_TIMEOUT ?? 120) * 1000;
const VERBOSE = process.env.EMUHOST_QEMU_VERBOSE === '1';
const PROGRAMS = ['i440fx-test', 'endianness-test', 'qos-test'];
/**
 * Cases that cannot apply to emuhost, with why: not run, reported as `n/a` (not a failure).
 * Keep README's table in step.
 */
const NOT_APPLICABLE = {
  '/x86_64/pc/i440FX-pcihost/pci-bus-pc/pci-bus/virtio-blk-pci/virtio-blk-pci-tests/nxvirtq':
    'programs the legacy virtio-pci interface (I/O BAR 0); emuhost implements only modern virtio (disable-legacy=on)',
};
const filters = process.argv.slice(2);

function die(code, message) {
  process.stderr.write(`test:qemu: ${message}\n`);
  process.exit(code);
}

// The drop-in. libqtest takes the target architecture from what follows the binary's last
// '-' ("x86_64.mjs" for the .mjs itself, so endianness-test would find no case for it), hence
// a link without the extension, in the work dir.
const dropIn = path.join(REPO, 'cli/bin/emuhost-system-x86_64.mjs');
try {
  fs.accessSync(dropIn, fs.constants.X_OK);
} catch {
  die(2, `${dropIn} is missing or not executable`);
}
const binDir = path.join(WORK, 'bin');
const binary = path.join(binDir, 'emuhost-system-x86_64');
fs.mkdirSync(binDir, { recursive: true });
let linked;
try {
  linked = fs.readlinkSync(binary);
} catch {}
if (linked !== dropIn) {
  fs.rmSync(binary, { force: true });
  fs.symlinkSync(dropIn, binary);
}

// The programs: WORK/qemu-*/build-emuhost/tests/qtest/NAME.
const trees = fs.existsSync(WORK)
  ? fs
      .readdirSync(WORK)
      .filter((d) => d.startsWith('qemu-'))
      .sort()
      .map((d) => path.join(WORK, d, 'build-emuhost/tests/qtest'))
  : [];
const programs = PROGRAMS.map((name) => ({
  name,
  file: trees.map((t) => path.join(t, name)).findLast((f) => fs.existsSync(f)),
}));
const unbuilt = programs.filter((p) => p.file === undefined).map((p) => p.name);
if (unbuilt.length > 0)
  die(2, `${unbuilt.join(', ')} not built in ${WORK}: run scripts/qemu-tests/build.sh first`);

const logDir = path.join(WORK, 'logs');
fs.mkdirSync(logDir, { recursive: true });
const env = { ...process.env, QTEST_QEMU_BINARY: binary };

/** Runs a program to its end or the deadline; the whole process group goes at the deadline. */
function run(file, args, deadline) {
  return new Promise((resolve) => {
    const child = spawn(file, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const take = (chunk) => {
      out += chunk;
      if (VERBOSE) process.stderr.write(chunk);
    };
    child.stdout.setEncoding('utf8').on('data', take);
    child.stderr.setEncoding('utf8').on('data', take);
    let timedOut = false;
    const timer = setTimeout(
      () => {
        timedOut = true;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {}
      },
      Math.max(0, deadline - Date.now()),
    );
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Whatever the test left behind (an emuhost it did not get to kill) goes with it.
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      resolve({ out, code, signal, timedOut });
    });
  });
}

/** The case paths a program registers, in order (`-l`). */
function listCases(file) {
  const r = spawnSync(file, ['-l'], { env, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) return { error: `-l failed (${r.status ?? r.signal}): ${r.stderr.trim()}` };
  return { cases: r.stdout.split('\n').filter((l) => l.startsWith('/')) };
}

/** One case's result from its TAP output and exit status. */
function judge(casePath, { out, code, signal, timedOut }) {
  const lines = out.split('\n');
  for (const l of lines) {
    let m = /^ok \d+ (\S+)(?:\s+#\s*SKIP\b\s*(.*))?$/.exec(l);
    if (m && m[1] === casePath) {
      if (m[2] !== undefined) return { result: 'skip', reason: m[2] || 'skipped' };
      if (code === 0) return { result: 'pass', reason: '' };
      return { result: 'fail', reason: `reported ok, then exited ${code ?? signal}` };
    }
    m = /^not ok \d+ (\S+)(.*)$/.exec(l);
    if (m && m[1] === casePath)
      return { result: 'fail', reason: firstError(lines) ?? `not ok${m[2]}` };
  }
  if (timedOut) return { result: 'fail', reason: `timed out after ${TIMEOUT_MS / 1000} s` };
  return { result: 'fail', reason: firstError(lines) ?? `no result; exited ${code ?? signal}` };
}

/** The first line that says what went wrong: glib's Bail out! or ERROR, else emuhost's own. */
function firstError(lines) {
  const bail = lines.find((l) => l.startsWith('Bail out! '));
  if (bail) return bail.slice('Bail out! '.length).replace(/^ERROR:(\.\.\/)?/, '');
  return (
    lines.find((l) => l.includes('ERROR:')) ?? lines.find((l) => l.startsWith('emuhost: '))
  )?.trim();
}

const rows = [];
for (const prog of programs) {
  const listed = listCases(prog.file);
  if (listed.error) {
    rows.push({
      program: prog.name,
      case: '(list)',
      result: 'fail',
      reason: listed.error,
      log: '',
    });
    continue;
  }
  const cases = listed.cases.filter(
    (c) => filters.length === 0 || filters.some((f) => `${prog.name}${c}`.includes(f)),
  );
  if (listed.cases.length === 0)
    rows.push({
      program: prog.name,
      case: '(none)',
      result: 'fail',
      reason: 'registers no case for x86_64',
      log: '',
    });
  const deadline = Date.now() + TIMEOUT_MS;
  for (const c of cases) {
    if (NOT_APPLICABLE[c] !== undefined) {
      rows.push({ program: prog.name, case: c, result: 'n/a', reason: NOT_APPLICABLE[c], log: '' });
      process.stderr.write(`n/a  ${prog.name} ${c}\n`);
      continue;
    }
    const r =
      Date.now() >= deadline
        ? { out: '', code: null, signal: null, timedOut: true }
        : await run(prog.file, ['--tap', '-k', '-p', c], deadline);
    const log = path.join(logDir, `${prog.name}${c.replaceAll('/', '_')}.log`);
    fs.writeFileSync(log, r.out);
    const verdict = judge(c, r);
    rows.push({ program: prog.name, case: c, ...verdict, log });
    process.stderr.write(`${verdict.result.padEnd(4)} ${prog.name} ${c}\n`);
  }
}

const head = ['program', 'case', 'result', 'reason'];
const table = rows.map((r) => [r.program, r.case, r.result.toUpperCase(), r.reason]);
const widths = head.slice(0, 3).map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
const line = (cells) =>
  cells
    .map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c))
    .join('  ')
    .trimEnd();
console.log(`\nQEMU qtest programs against ${path.relative(REPO, dropIn)} (logs: ${logDir})\n`);
console.log(line(head));
console.log(line(widths.map((w) => '-'.repeat(w)).concat('------')));
for (const t of table) console.log(line(t));
const count = (k) => rows.filter((r) => r.result === k).length;
console.log(
  `\nqemu: ${count('pass')} passed, ${count('fail')} failed, ${count('skip') + count('n/a')} skipped`,
);
process.exit(count('fail') > 0 ? 1 : 0);
