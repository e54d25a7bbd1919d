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
      'lib/*/src/**/*.test.ts',
      'plugins/*/src/**/*.test.ts',
      'cli/templates/*/src/**/*.test.ts',
    ],
    // `forks`: later sandbox tests run SES lockdown, which breaks the vmThreads pool.
    pool: 'forks',
    // A timeout here detects a hang; it is never a speed requirement. vitest's 5 s default made
    // property tests fail on a loaded 2-core machine (issue 15), so every test and hook gets
    // two minutes; a test that needs more says so itself.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
