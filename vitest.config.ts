import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    env: {
      // The SDK warns on Node 20; harmless on Node 24, kept for a run on an older node.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      POWERTOOLS_LOG_LEVEL: "SILENT",
      // EMF lines on stdout are for CloudWatch; test/unit/metrics.test.ts turns them back on.
      POWERTOOLS_METRICS_DISABLED: "true",
    },
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          // One set of real services (Redis, Postgres, SQS) for the whole run, on free ports.
          globalSetup: ["test/support/global-setup.ts"],
          setupFiles: ["test/support/service-env.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Two cores: files in parallel would only fight over them and the shared services.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "cdk",
          include: ["test/cdk/**/*.test.ts"],
          // Synths run esbuild (the bundling test) and CDK's validation; no services needed.
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: "faults",
          include: ["test/faults/**/*.test.ts"],
          // Each test starts its own services (and stops them): no global setup.
          testTimeout: 120_000,
          hookTimeout: 60_000,
          // The faults time outages against load on two cores: one file at a time, in a
          // group of their own (never alongside the unit or integration files).
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
