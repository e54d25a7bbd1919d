import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deviceIdFor, TOOL_VERSIONS } from './new.js';

describe('deviceIdFor', () => {
  it('gives each name a fixed ID in 0x4000-0xbfff, never one emuhost uses', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), (name) => {
        const id = deviceIdFor(name);
        expect(id).toBeGreaterThanOrEqual(0x4000);
        expect(id).toBeLessThanOrEqual(0xbfff);
        expect([0x11e8, 0x1111, 0x4d44]).not.toContain(id);
        expect(deviceIdFor(name)).toBe(id);
      }),
    );
  });

  it('tells apart the names people pick', () => {
    const names = ['my-dev', 'my-dma', 'nvme', 'gpu', 'net', 'dma-copy', 'my-device', 'second-dev'];
    expect(new Set(names.map(deviceIdFor)).size).toBe(names.length);
  });
});

describe('a standalone project’s tools', () => {
  it('are the versions this repository is tested with', () => {
    const root = JSON.parse(
      readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8'),
    ) as { devDependencies: Record<string, string> };
    for (const [name, range] of Object.entries(TOOL_VERSIONS))
      expect(range, name).toBe(root.devDependencies[name]);
  });
});
