import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { LAMBDA_NODE_MAJOR } from "../../lib/bundling.js";
import { PROJECT_ROOT } from "../../local/services/index.js";
import { processTree } from "../support/listening.js";
import { startEnv, waitForDeath } from "../support/npm-start.js";

/**
 * The tests and the local stack run on the Node.js major of the functions' Lambda
 * runtime (nodejs24.x), brought by the `node` dev dependency whatever Node the
 * machine has: npm scripts put node_modules/.bin (with that node) first on PATH.
 */

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  cleanups.length = 0;
});

const major = (version: string) => Number(/^v?(\d+)\./.exec(version)?.[1]);

/** The Node.js version a process runs, asked of its executable; undefined for non-Node processes. */
function nodeVersionOf(pid: number): string | undefined {
  let exe: string;
  try {
    exe = readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined; // ended meanwhile
  }
  if (!/(^|\/)node(js)?(-\w+)?$/.test(exe)) return undefined;
  return execFileSync(exe, ["--version"], { encoding: "utf8" }).trim();
}

describe("Node.js runtime", () => {
  it("the test run is on the Lambda runtime's major, from the node dev dependency", () => {
    expect(LAMBDA_NODE_MAJOR).toBe(24);
    expect(major(process.versions.node)).toBe(LAMBDA_NODE_MAJOR);
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8"));
    expect(pkg.devDependencies.node).toMatch(new RegExp(`^\\^?${LAMBDA_NODE_MAJOR}\\.`));
    expect(pkg.engines.node).toBe(`>=${LAMBDA_NODE_MAJOR}`);
  });

  it("`npm start` from a shell whose PATH has only the system node: every process of the stack runs Node 24", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flash-sale-node-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    // A developer's shell: no node_modules/.bin on PATH (vitest, started by npm, has it).
    const PATH = (process.env.PATH ?? "")
      .split(delimiter)
      .filter((entry) => !entry.includes("node_modules"))
      .join(delimiter);
    const child = spawn(
      "npm",
      [
        "start",
        "--silent",
        "--",
        "--no-demo",
        "--port",
        "0",
        "--workers",
        "1",
        "--clean",
        "--data-dir",
        dir,
      ],
      {
        cwd: PROJECT_ROOT,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...startEnv({ LOCAL_JWT_SECRET: "node-runtime-test-secret" }), PATH },
        detached: true,
      },
    );
    let started: number[] = [];
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        process.kill(-(child.pid ?? 0), "SIGTERM");
        await exited;
      }
      await waitForDeath(started);
    });
    let output = "";
    child.stderr?.on("data", (chunk) => {
      output += chunk;
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`not serving after 90 s:\n${output}`)),
        90_000,
      );
      child.once("exit", (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        output += `${line}\n`;
        if (/^Serving http:\/\/\S+ until/.test(line)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });

    const tree = processTree(child.pid ?? 0);
    started = tree;
    const versions = new Map<number, string>();
    for (const pid of tree) {
      // The npm CLI itself runs on whatever node the shell found; what it starts must not.
      if (pid === child.pid) continue;
      const version = nodeVersionOf(pid);
      if (version) versions.set(pid, version);
    }
    // tsx's CLI, local/main.ts, one HTTP worker and fauxqs at least.
    expect(versions.size, output).toBeGreaterThanOrEqual(4);
    for (const [pid, version] of versions) {
      expect(major(version), `pid ${pid}: ${version}`).toBe(LAMBDA_NODE_MAJOR);
    }
  });
});
