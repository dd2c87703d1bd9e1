import { readdirSync, readFileSync } from "node:fs";

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
  // Off Lambda the folder is there; a missing one fails with its path (ENOENT).
  return Object.fromEntries(
    readdirSync(dir)
      .filter(accept)
      .map((name) => [name, readFileSync(new URL(name, dir), "utf8")]),
  );
}
