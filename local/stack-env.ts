import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "./services/index.js";

/**
 * `npm start` writes the running stack's environment here, so the ops
 * commands (reconcile, redrive, token) find its services without flags.
 */
export const STACK_DIR = join(PROJECT_ROOT, ".local", "stack");
const ENV_FILE = join(STACK_DIR, "env.json");

export function writeStackEnv(env: Record<string, string>): void {
  writeFileSync(ENV_FILE, `${JSON.stringify(env, null, 2)}\n`);
}

/** Fills in variables from the running local stack where the environment does not set them. */
export function useStackEnvDefaults(): boolean {
  if (!existsSync(ENV_FILE)) return false;
  const env = JSON.parse(readFileSync(ENV_FILE, "utf8")) as Record<string, string>;
  for (const [name, value] of Object.entries(env)) process.env[name] ??= value;
  return true;
}
