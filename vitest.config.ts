import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Workspace packages export their TypeScript sources under this condition.
    conditions: ['emuhost-source'],
  },
  test: {
    include: ['{sdk,core,sandbox,bench}/src/**/*.test.ts', 'plugins/*/src/**/*.test.ts'],
    // `forks`: later sandbox tests run SES lockdown, which breaks the vmThreads pool.
    pool: 'forks',
  },
});
