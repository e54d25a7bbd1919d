/**
 * Errors a user can act on, from QEMU's command line and machine files: `-machine help` and
 * `-device help` list what exists, an unknown device lists the known ones and says how to
 * load a plugin, a `-device` problem names the `-device` argument, a machine file reports all
 * of its problems in one run with where they are, and an IOMMU bound to a bus the machine
 * lacks lists the machine's buses.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runQtest } from './launch.js';

async function run(argv: string[]) {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => {
    out += String(c);
  });
  stderr.on('data', (c) => {
    err += String(c);
  });
  const code = runQtest(argv, { stdin, stdout, stderr });
  stdin.end();
  return { code: await code, out, err };
}

const qtest = ['-qtest', 'stdio', '-qtest-log', '/dev/null'];

function file(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'emuhost-errors-')), 'machine.json');
  writeFileSync(f, text);
  return f;
}

describe('-machine help and -device help', { timeout: 60_000 }, () => {
  it('list the machines as QEMU does', async () => {
    const r = await run(['-machine', 'help']);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('Supported machines are:');
    expect(lines).toContainEqual(expect.stringMatching(/^pc {19}\S.*\(default\)$/));
    expect(lines).toContainEqual(expect.stringMatching(/^q35 {18}\S/));
    expect(lines).toContainEqual('none                 empty machine');
    expect(r.out).not.toMatch(/^(edu|vtd) /m);
  });

  it('list the devices and IOMMUs, QEMU names first, and say how to add one', async () => {
    const r = await run(['-device', 'help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Devices:\nname "edu", bus PCI, desc "QEMU's educational PCI device/);
    expect(r.out).toMatch(/^name "pc-testdev", bus platform/m);
    expect(r.out).toMatch(/^IOMMUs:\n(name .*\n)*name "intel-iommu", alias "vtd", bus platform/m);
    expect(r.out).toContain('--plugin DIR/dist/emuhost.plugin.json');
    expect(r.out).not.toMatch(/name "q35"/);
  });

  it('list a device’s options with -device NAME,help', async () => {
    const r = await run(['-device', 'edu,help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^edu options:\n/);
    expect(r.out).toMatch(/^ {2}dma_mask=<\w+>/m);
  });
});

describe('unknown names', { timeout: 60_000 }, () => {
  it('an unknown device names the argument, the nearest device, the known ones and --plugin', async () => {
    const r = await run([...qtest, '-machine', 'q35', '-device', 'eud,addr=03.0']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /^emuhost: E_UNKNOWN_ID: -device eud,addr=03\.0: 'eud' is not a valid device model name \(did you mean 'edu'\?\)\. Known: .*edu.*intel-iommu.*vtd.* \(-device help lists them\); a plugin of your own: `emuhost build DIR`, then --plugin DIR\/dist\/emuhost\.plugin\.json\n$/,
    );
  });

  it('an unknown machine suggests the nearest', async () => {
    const r = await run([...qtest, '-machine', 'q53']);
    expect(r.err).toBe(
      "emuhost: E_UNKNOWN_ID: unsupported machine type 'q53' (did you mean 'q35'?) (use -machine help)\n",
    );
  });

  it('a -device problem names the -device argument, not devices[0]', async () => {
    const r = await run([...qtest, '-machine', 'q35', '-device', 'edu,addr=40.0']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^emuhost: E_MACHINE_FILE: -device edu,addr=40\.0: .*slot past 0x1f/);
    expect(r.err).not.toContain('devices[0]');
  });
});

describe('machine files', { timeout: 60_000 }, () => {
  it('report every syntax error with its line and column', async () => {
    const f = file('{\n  "machine": "q35",\n  "devices": [ { "plugin" "edu" } ],\n  "ram": ,\n}\n');
    const r = await run([...qtest, '--machine', f]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${f} is not valid JSON:\n`);
    expect(r.err).toContain(`  ${f}:3:27: expected a ':'`);
    expect(r.err).toContain(`  ${f}:4:10: expected a value`);
  });

  it('report every other problem in one run, each at its field, with "did you mean"', async () => {
    const f = file(
      [
        '{',
        '  "machine": "q53",',
        '  "devics": [],',
        '  "devices": [',
        '    { "plugin": "eud", "addr": "zz" },',
        '    { "plugin": "edu", "optons": {} }',
        '  ],',
        '  "iommus": [{ "plugin": "vtd", "bind": [{ "bus": "pci.0" }] }]',
        '}',
      ].join('\n'),
    );
    const r = await run([...qtest, '--machine', f]);
    expect(r.code).toBe(1);
    const lines = r.err.split('\n');
    expect(lines[0]).toBe(`emuhost: E_MACHINE_FILE: ${f}: 5 problems:`);
    expect(lines.slice(1, -1).sort()).toEqual(
      [
        `  ${f}:2:14: machine: no plugin 'q53' is loaded or ships with emuhost (did you mean 'q35'?)`,
        `  ${f}:3:3: devics: unknown field (did you mean 'devices'?)`,
        `  ${f}:5:17: devices[0].plugin: no plugin 'eud' is loaded or ships with emuhost (did you mean 'edu'?)`,
        `  ${f}:5:32: devices[0].addr: must be "SLOT[.FUNCTION]" in hex, e.g. "03.0"`,
        `  ${f}:6:24: devices[1].optons: unknown field (did you mean 'options'?)`,
      ].sort(),
    );
  });

  it('refuse an IOMMU bound to a bus the machine lacks, listing its buses', async () => {
    const f = file(
      JSON.stringify({
        machine: 'q35',
        iommus: [{ plugin: 'vtd', bind: [{ bus: 'pci.0' }] }],
      }),
    );
    const r = await run([...qtest, '--machine', f]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      "emuhost: E_MACHINE_FILE: iommus[0].bind[0]: machine 'q35' has no bus 'pci.0' (did you mean 'pcie.0'?) (its buses: pcie.0, platform)\n",
    );
  });
});
