import { describe, expect, it } from 'vitest';
import { didYouMean, nearest } from './suggest.js';

describe('nearest', () => {
  it.each([
    ['q53', ['pc', 'q35', 'none'], 'q35'],
    ['eud', ['edu', 'vtd', 'tce'], 'edu'],
    ['intel-iomu', ['intel-iommu', 'edu'], 'intel-iommu'],
    ['devics', ['machine', 'devices', 'iommus'], 'devices'],
    ['PCIE.0', ['pcie.0', 'platform'], 'pcie.0'],
    ['xx', ['pc', 'q35'], undefined],
    ['nvme', ['edu', 'vtd', 'tce'], undefined],
    ['edu', ['edu', 'vtd'], undefined],
    ['anything', [], undefined],
  ])('%s among %j is %s', (name, known, want) => {
    expect(nearest(name, known)).toBe(want);
  });

  it('words it for a message', () => {
    expect(didYouMean('q53', ['q35'])).toBe(" (did you mean 'q35'?)");
    expect(didYouMean('zzz', ['q35'])).toBe('');
  });
});
