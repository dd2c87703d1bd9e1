import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readSettings, type StackSettings } from "../lib/config.js";

/**
 * The settings the CDK stack deploys with (cdk.json's context, read and
 * checked by lib/config.ts as `cdk synth` reads it), for the local stack to
 * emulate the same queue, event source and function limits. Read once.
 */
export function readLocalStackSettings(
  root = join(import.meta.dirname, ".."),
  overrides: Record<string, unknown> = {},
): StackSettings {
  const cdkJson = JSON.parse(readFileSync(join(root, "cdk.json"), "utf8")) as {
    context?: Record<string, unknown>;
  };
  return readSettings({ ...cdkJson.context, ...overrides });
}

export const LOCAL_STACK_SETTINGS: StackSettings = readLocalStackSettings();
