import pg from "pg";
import type { TestProject } from "vitest/node";
import { migrate } from "../../lambdas/adapters/postgres/migrate.js";
import { startLocalServices } from "../../local/services/index.js";

declare module "vitest" {
  export interface ProvidedContext {
    serviceEnv: Record<string, string>;
  }
}

/** Starts real Redis, Postgres and SQS on free ports for the integration tests, and stops them after. */
export default async function setup(project: TestProject) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  const services = await startLocalServices({
    queues: { visibilityTimeoutSeconds: 2, maxReceiveCount: 3 },
  });
  const pool = new pg.Pool({ connectionString: services.postgres?.url });
  await migrate(pool);
  await pool.end();
  project.provide("serviceEnv", services.env());
  return () => services.stop({ removeData: true });
}
