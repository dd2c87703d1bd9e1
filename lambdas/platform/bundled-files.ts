import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * Text files a function needs at run time (Lua scripts, SQL migrations, the
 * dashboard page). A Lambda bundle carries them inlined: lib/bundling.ts has
 * esbuild define an identifier holding `{ "<file name>": "<text>" }`, so
 * nothing is read from disk there. Everywhere else (the local host, tests,
 * scripts) the same map is read from the folder, once.
 *
 * `bundled` is the defined identifier's value, passed by the caller because
 * esbuild replaces the identifier only where it is written literally.
 */
export function bundledOrOnDisk(
  bundled: Record<string, string> | undefined,
  dir: URL,
  accept: (fileName: string) => boolean,
): Record<string, string> {
  if (bundled !== undefined) return bundled;
  const path = fileURLToPath(dir);
  if (!existsSync(path)) throw new Error(`These files are neither in the bundle nor in ${path}`);
  return Object.fromEntries(
    readdirSync(path)
      .filter(accept)
      .sort()
      .map((name) => [name, readFileSync(new URL(name, dir), "utf8")]),
  );
}
