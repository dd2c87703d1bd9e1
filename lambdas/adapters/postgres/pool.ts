import pg from "pg";
import type { DatabaseConfig } from "../../platform/config.js";
import { logger } from "../../platform/logger.js";
import { secretJson } from "../secrets.js";

/**
 * One small pg pool per container. In AWS it connects through RDS Proxy,
 * which multiplexes many Lambda containers onto few database connections;
 * credentials come from the cluster's Secrets Manager secret.
 */
export async function createPostgresPool(config: DatabaseConfig): Promise<pg.Pool> {
  const credentials = config.secretArn
    ? await secretJson<{ username: string; password: string }>(config.secretArn)
    : undefined;
  const pool = new pg.Pool({
    ...(config.url
      ? { connectionString: config.url }
      : {
          host: config.host,
          port: config.port,
          database: config.database,
          user: credentials?.username,
          password: credentials?.password,
        }),
    ssl: config.ssl ? { rejectUnauthorized: true } : undefined,
    max: config.poolSize,
    idleTimeoutMillis: 60_000,
    connectionTimeoutMillis: config.connectTimeoutMs,
    statement_timeout: config.statementTimeoutMs,
    query_timeout: config.statementTimeoutMs + 1_000,
    keepAlive: true,
    application_name: "flash-sale",
  });
  // An idle client losing its connection must not crash the container.
  pool.on("error", (error) => logger.warn("postgres idle client error", { error: error.message }));
  return pool;
}
