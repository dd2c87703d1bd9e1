import { bundledOrOnDisk } from "../../platform/bundled-files.js";

/**
 * The SQL migrations in lambdas/adapters/postgres/migrations/, in name order. Lambda bundles
 * carry them inlined (esbuild defines __SQL_MIGRATIONS__, see lib/); elsewhere
 * they are read from disk.
 */
export interface Migration {
  /** File name without extension, e.g. 001_orders. */
  version: string;
  sql: string;
}

declare const __SQL_MIGRATIONS__: Record<string, string> | undefined;

const MIGRATIONS_DIR = new URL("./migrations/", import.meta.url);
const SQL_FILE = /\.sql$/;

export function loadMigrations(): Migration[] {
  const files = bundledOrOnDisk(
    typeof __SQL_MIGRATIONS__ !== "undefined" ? __SQL_MIGRATIONS__ : undefined,
    MIGRATIONS_DIR,
    (name) => SQL_FILE.test(name),
  );
  return Object.keys(files)
    .sort()
    .map((name) => ({ version: name.replace(SQL_FILE, ""), sql: files[name] as string }));
}
