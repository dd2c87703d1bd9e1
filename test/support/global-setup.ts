import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { migrate } from "../../lambdas/adapters/postgres/migrate.js";
import { localPaymentEnv } from "../../local/payments.js";
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
  // invoke() (fixtures.ts) records each response it checked against the OpenAPI document here.
  const tallyDir = mkdtempSync(join(tmpdir(), "openapi-tally-"));
  const tallyFile = join(tallyDir, "checked.tsv");
  project.provide("serviceEnv", {
    ...services.env(),
    ...localPaymentEnv(),
    OPENAPI_TALLY_FILE: tallyFile,
  });
  return async () => {
    reportConformance(tallyFile);
    rmSync(tallyDir, { recursive: true, force: true });
    await services.stop({ removeData: true });
  };
}

function reportConformance(file: string): void {
  let lines: string[] = [];
  try {
    lines = readFileSync(file, "utf8").split("\n").filter(Boolean);
  } catch {
    // no test called invoke()
  }
  const byRoute = new Map<string, Map<string, number>>();
  for (const line of lines) {
    const [route = "", status = ""] = line.split("\t");
    const statuses = byRoute.get(route) ?? new Map<string, number>();
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    byRoute.set(route, statuses);
  }
  const detail = [...byRoute]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([route, statuses]) => {
      const counts = [...statuses].sort().map(([status, n]) => `${status}: ${n}`);
      return `  ${route}  ${counts.join(", ")}`;
    });
  process.stdout.write(
    `OpenAPI conformance: ${lines.length} handler responses matched the document (${byRoute.size} routes)\n${detail.join("\n")}\n`,
  );
}
