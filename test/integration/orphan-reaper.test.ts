import { spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RUNS_DIR, reapOrphanedRuns } from "../../local/services/index.js";
import { isAlive, startTicks } from "../../local/services/processes.js";

describe("reapOrphanedRuns", () => {
  it("kills the services of a run whose owner died, but never a process that merely reuses a recorded pid", async () => {
    const orphan = spawn("sleep", ["30"], { stdio: "ignore" });
    const stranger = spawn("sleep", ["30"], { stdio: "ignore" });
    const dead = spawn("true");
    await new Promise((resolve) => dead.once("exit", resolve));
    const runDir = join(RUNS_DIR, `${Date.now()}-reaper-test`);
    mkdirSync(runDir, { recursive: true });
    const orphanPid = orphan.pid ?? 0;
    const strangerPid = stranger.pid ?? 0;
    writeFileSync(
      join(runDir, "owner.pid"),
      JSON.stringify({
        owner: dead.pid,
        pids: [orphanPid, strangerPid],
        // The stranger's recorded start time is not its own: the pid was "reused".
        started: {
          [orphanPid]: startTicks(orphanPid),
          [strangerPid]: (startTicks(strangerPid) ?? 0) - 1,
        },
        dataDirs: [],
      }),
    );
    try {
      reapOrphanedRuns();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(isAlive(orphanPid)).toBe(false);
      expect(isAlive(strangerPid)).toBe(true);
      expect(existsSync(runDir)).toBe(false);
    } finally {
      orphan.kill("SIGKILL");
      stranger.kill("SIGKILL");
    }
  });
});
