import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['test/**/*.test.ts', 'streams/**/*.test.ts', 'src/**/*.test.ts'],
          exclude: ['test/real-spark/**', '**/node_modules/**'],
          // Integration tests share one MariaDB and one Ceph RGW; each file uses its own
          // database and bucket, so files may run in parallel, but two cores limit the gain.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'real-spark',
          // Real Spark and Kafka JVMs (test/services/spark.sh, kafka.sh): one file at a time,
          // after the rest, so the drivers' timing is not at the mercy of the other suites.
          include: ['test/real-spark/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
