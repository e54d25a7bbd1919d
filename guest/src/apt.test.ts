import { describe, expect, it } from 'vitest';
import { aptConf, sourcesFile } from './apt.js';

describe('the private APT state', () => {
  it('lists trixie, trixie-backports and sid from the mirror, trixie-security beside it, riscv64 only', () => {
    const s = sourcesFile({
      mirror: 'http://mirror.example/debian',
      securityMirror: 'http://mirror.example/debian-security',
      keyring: '/k.gpg',
    });
    expect(s).toBe(
      'Types: deb\nURIs: http://mirror.example/debian\nSuites: trixie trixie-backports sid\n' +
        'Components: main\nArchitectures: riscv64\nSigned-By: /k.gpg\n\n' +
        'Types: deb\nURIs: http://mirror.example/debian-security\nSuites: trixie-security\n' +
        'Components: main\nArchitectures: riscv64\nSigned-By: /k.gpg\n',
    );
  });

  it('roots every apt directory in the cache and keeps signature checks', () => {
    const c = aptConf('/cache/apt', 'http://proxy:3142');
    expect(c).toContain('Dir "/cache/apt/";');
    expect(c).toContain('APT::Architecture "riscv64";');
    expect(c).toContain('Acquire::http::Proxy "http://proxy:3142";');
    expect(c).not.toMatch(/AllowUnauthenticated|trusted=yes/i);
    expect(aptConf('/c')).not.toContain('Proxy');
  });
});
