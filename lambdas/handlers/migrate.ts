import type { CloudFormationCustomResourceEvent } from "aws-lambda";
import { migrate } from "../adapters/postgres/migrate.js";
import { createPostgresPool } from "../adapters/postgres/pool.js";
import { readDatabaseConfig } from "../platform/config.js";
import { functionChain } from "../platform/function-chain.js";
import { logger } from "../platform/logger.js";

/**
 * Custom-resource handler (CDK Provider framework, onEvent) that applies the
 * SQL migrations on every deploy. Deletes leave the schema alone: tearing the
 * stack down is the database's own decision (its removal policy).
 */
interface MigrateResult {
  PhysicalResourceId: string;
  Data?: { Applied: string };
}

export const handler = functionChain<CloudFormationCustomResourceEvent, MigrateResult>().handler(
  async (event) => {
    if (event.RequestType === "Delete") {
      return { PhysicalResourceId: event.PhysicalResourceId };
    }
    const pool = await createPostgresPool(readDatabaseConfig());
    try {
      const applied = await migrate(pool);
      logger.info("migrations applied", { applied });
      return { PhysicalResourceId: "flash-sale-schema", Data: { Applied: applied.join(",") } };
    } finally {
      await pool.end();
    }
  },
);
