import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Workspace packages export their TypeScript sources under this condition. Vitest runs
// tests as server-side code, so the condition goes in `ssr.resolve`.
const conditions = ['emuhost-source', ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    include: [
      '{sdk,core,sandbox,host,testing,cli,bench,guest}/src/**/*.test.ts',
      'plugins/*/src/**/*.test.ts',
      'cli/templates/*/src/**/*.test.ts',
    ],
    // `forks`: later sandbox tests run SES lockdown, which breaks the vmThreads pool.
    pool: 'forks',
    // No test may depend on machine speed: on a 2-core machine with other CPU-bound work,
    // vitest's 5 s default fails tests that are merely slow. Heavier tests set their own.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
