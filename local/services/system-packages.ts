import { existsSync, readdirSync } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * Where the Debian-packaged servers live. scripts/setup.mjs installs them
 * (npm start and npm test run it first); this module only finds them.
 */

const HINT = "run `npm run setup` (installs redis-server and postgresql from Debian packages)";

export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  for (const dir of ["/usr/sbin", "/usr/bin", "/usr/local/bin"]) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export function requireBinary(name: string): string {
  const found = findOnPath(name);
  if (!found) throw new Error(`${name} is not installed: ${HINT}`);
  return found;
}

/** The newest PostgreSQL server binaries: PG_BIN_DIR, else Debian's /usr/lib/postgresql/<major>/bin. */
export function postgresBinDir(): string {
  const configured = process.env.PG_BIN_DIR;
  if (configured) return configured;
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((entry) => existsSync(join(root, entry, "bin", "postgres")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const newest = majors[0];
  if (newest === undefined) throw new Error(`PostgreSQL server binaries not found: ${HINT}`);
  return join(root, newest, "bin");
}
