import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import {
  PROJECT_ROOT,
  RUNS_DIR,
  reapOrphanedRuns,
  takeOverDir,
} from "../../local/services/index.js";
import { createPostgresService } from "../../local/services/postgres-server.js";
import { isAlive, processesWorkingIn, startTicks } from "../../local/services/processes.js";

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

/** The signal that ended a child (once Node has reaped it). */
async function signalOf(child: ChildProcess): Promise<NodeJS.Signals | null> {
  if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
  return child.signalCode;
}

function testDir(name: string): string {
  const dir = join(PROJECT_ROOT, ".local", "takeover-test", `${Date.now()}-${name}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe("takeOverDir (a start on the folder of a run that died)", () => {
  it("stops the recorded services still running (graceful signal first), keeps the data, spares a reused pid", async () => {
    const dir = testDir("recorded");
    // One that ignores the graceful signal (SIGKILL after the grace period), one that obeys it.
    const stubborn = spawn("sh", ["-c", "trap '' TERM; while :; do sleep 0.1; done"], {
      stdio: "ignore",
    });
    const obedient = spawn("sleep", ["30"], { stdio: "ignore" });
    const stranger = spawn("sleep", ["30"], { stdio: "ignore" });
    const dead = spawn("true");
    await new Promise((resolve) => dead.once("exit", resolve));
    const record = (name: string, pid: number, started: number | undefined) => ({
      name,
      pid,
      started,
      command: "sleep 30",
      signal: "SIGTERM",
    });
    writeFileSync(join(dir, "data.txt"), "kept");
    writeFileSync(
      join(dir, "owner.pid"),
      JSON.stringify({
        owner: dead.pid,
        ownerStarted: startTicks(dead.pid ?? 0),
        pids: [],
        processes: [
          record("stubborn", stubborn.pid ?? 0, startTicks(stubborn.pid ?? 0)),
          record("obedient", obedient.pid ?? 0, startTicks(obedient.pid ?? 0)),
          // Same pid, another start time: a process that reuses the pid, not ours.
          record("stranger", stranger.pid ?? 0, (startTicks(stranger.pid ?? 0) ?? 0) - 1),
        ],
      }),
    );
    try {
      const started = Date.now();
      await takeOverDir(dir, 500);
      expect(Date.now() - started).toBeGreaterThanOrEqual(500);
      expect(isAlive(stubborn.pid ?? 0)).toBe(false);
      expect(isAlive(obedient.pid ?? 0)).toBe(false);
      expect(await signalOf(stubborn)).toBe("SIGKILL");
      expect(await signalOf(obedient)).toBe("SIGTERM");
      expect(isAlive(stranger.pid ?? 0)).toBe(true);
      expect(existsSync(join(dir, "owner.pid"))).toBe(false);
      expect(readFileSync(join(dir, "data.txt"), "utf8")).toBe("kept");
    } finally {
      for (const child of [stubborn, obedient, stranger]) child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a folder whose owner still runs, naming it and what to do", async () => {
    const dir = testDir("live-owner");
    const owner = spawn("sleep", ["30"], { stdio: "ignore" });
    const pid = owner.pid ?? 0;
    writeFileSync(
      join(dir, "owner.pid"),
      JSON.stringify({ owner: pid, ownerStarted: startTicks(pid), pids: [], processes: [] }),
    );
    try {
      await expect(takeOverDir(dir)).rejects.toThrow(
        new RegExp(`in use by a running stack: pid ${pid} \\(sleep 30\\).*kill ${pid}.*--data-dir`),
      );
      expect(isAlive(pid)).toBe(true);
    } finally {
      owner.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Postgres on a data folder a killed Postgres left", () => {
  it("starts although postmaster.pid names a live process that merely reuses the pid", async () => {
    const dir = testDir("postgres-lock");
    const postgres = await createPostgresService({ dir: join(dir, "postgres") });
    // Of the user Postgres runs as, so that Postgres may signal it and takes it for a live postmaster.
    const user =
      process.getuid?.() === 0
        ? {
            uid: Number(execFileSync("id", ["-u", "postgres"]).toString()),
            gid: Number(execFileSync("id", ["-g", "postgres"]).toString()),
          }
        : {};
    const impostor = spawn("sleep", ["30"], { stdio: "ignore", ...user });
    try {
      await postgres.start();
      await postgres.stop("SIGKILL");
      const dataDir = join(postgres.dir, "data");
      // Its backends notice the postmaster's death and exit; while they run, the lock stays (and should).
      const deadline = Date.now() + 10_000;
      while (processesWorkingIn(dataDir).length > 0 && Date.now() < deadline) await sleep(50);
      const lock = join(dataDir, "postmaster.pid");
      // The lock file of the killed Postgres, with its pid now taken by an unrelated process.
      const lines = readFileSync(lock, "utf8").split("\n");
      lines[0] = String(impostor.pid);
      writeFileSync(lock, lines.join("\n"));
      await postgres.start();
      expect(isAlive(postgres.pid ?? 0)).toBe(true);
      expect(isAlive(impostor.pid ?? 0)).toBe(true);
    } finally {
      await postgres.stop();
      impostor.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
