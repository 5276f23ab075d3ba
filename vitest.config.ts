import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'streams/**/*.test.ts', 'src/**/*.test.ts'],
    // Integration tests share one MariaDB and one Ceph RGW; each file uses its own
    // database and bucket, so files may run in parallel, but two cores limit the gain.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
