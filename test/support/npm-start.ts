import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { PROJECT_ROOT } from "../../local/services/index.js";
import { isAlive } from "../../local/services/processes.js";

/** `npm start` as a child process, for the tests of what it does on this machine. */

export const TSX = join(PROJECT_ROOT, "node_modules", ".bin", "tsx");

/** The environment of the test process without the variables a test must choose itself. */
export function startEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env };
  delete base.LOCAL_JWT_SECRET;
  delete base.PORT;
  return { ...base, ...env };
}

export interface NpmStart {
  child: ChildProcess;
  url: string;
  output: () => string;
  stop(): Promise<void>;
}

/**
 * `tsx local/main.ts --no-demo` as `npm start -- --no-demo` runs it, on a free port with one
 * HTTP worker; resolves once it serves.
 */
export async function startNpmStart(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<NpmStart> {
  const child = spawn(
    TSX,
    ["local/main.ts", "--no-demo", "--port", "0", "--workers", "1", "--clean", ...args],
    {
      cwd: PROJECT_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: startEnv(env),
    },
  );
  let output = "";
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`npm start not serving after 60 s:\n${output}`)),
      60_000,
    );
    child.once("exit", (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      output += `${line}\n`;
      const serving = /^Serving (http:\/\/\S+) until/.exec(line);
      if (serving?.[1]) {
        clearTimeout(timer);
        resolve(serving[1]);
      }
    });
  });
  return {
    child,
    url,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(20_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

export async function waitForDeath(pids: number[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && pids.some(isAlive)) await sleep(100);
}
