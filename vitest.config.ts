import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests start real servers on ephemeral ports; sharp and onnxruntime already use
    // both cores, so more workers only add contention on these 2-core machines.
    maxWorkers: 2,
  },
});
