import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
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
    ],
  },
});
