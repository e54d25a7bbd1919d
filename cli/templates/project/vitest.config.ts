import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    // Each test builds and loads the plugin: generous, so a loaded machine never fails one.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
