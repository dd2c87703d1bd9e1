import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../local/services/index.js";
import { isAlive } from "../../local/services/processes.js";
import { processTree } from "../support/listening.js";
import { startEnv, startNpmStart, TSX, waitForDeath } from "../support/npm-start.js";

/**
 * `npm start` without LOCAL_JWT_SECRET checks tokens with the development
 * secret that is in this repository: it says so, and refuses to listen on an
 * address other machines can reach.
 */

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  cleanups.length = 0;
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "flash-sale-start-"));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe("npm start and the development JWT secret", () => {
  it.each(["0.0.0.0", "::", "192.0.2.10"])(
    "refuses --host %s without LOCAL_JWT_SECRET: non-zero exit, says to set it, starts nothing",
    async (host) => {
      const dir = tempDir();
      const child = spawn(TSX, ["local/main.ts", "--no-demo", "--host", host, "--data-dir", dir], {
        cwd: PROJECT_ROOT,
        stdio: ["ignore", "pipe", "pipe"],
        env: startEnv({}),
      });
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      // Should it start after all, stop it (and what it started) rather than leave it running.
      cleanups.push(async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill("SIGTERM");
        await Promise.race([exited, sleep(20_000)]);
      });
      let output = "";
      child.stdout?.on("data", (chunk) => {
        output += chunk;
      });
      child.stderr?.on("data", (chunk) => {
        output += chunk;
      });
      let tree: number[] = [];
      const probe = setInterval(() => {
        tree = [...new Set([...tree, ...processTree(child.pid ?? 0)])];
      }, 20);
      const code = await Promise.race([exited, sleep(30_000).then(() => "still running")]);
      clearInterval(probe);

      expect(code).not.toBe(0);
      expect(output).toContain("refusing to start");
      expect(output).toContain("LOCAL_JWT_SECRET");
      expect(output).not.toContain("starting redis-server");
      // Nothing was started: no service data, and no process of it left.
      expect(readdirSync(dir)).toEqual([]);
      await waitForDeath(tree, 2_000);
      expect(tree.filter(isAlive)).toEqual([]);
    },
  );

  it("warns on loopback without LOCAL_JWT_SECRET, and serves", async () => {
    const start = await startNpmStart(["--data-dir", tempDir()]);
    cleanups.push(() => start.stop());
    expect(start.output()).toMatch(/warning: LOCAL_JWT_SECRET is not set.*development secret/);
    const health = await fetch(`${start.url}/sales/no-such-sale`);
    expect(health.status).toBe(404);
    const tree = processTree(start.child.pid ?? 0);
    await start.stop();
    await waitForDeath(tree);
    expect(tree.filter(isAlive)).toEqual([]);
  });
});
