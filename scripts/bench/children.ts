import { type ChildProcess, fork } from "node:child_process";

/**
 * Forks a TypeScript module (run by tsx) as a separate process and waits for
 * its `{ type: "ready" }` IPC message, bounded in time.
 */
export interface Forked<Ready> {
  child: ChildProcess;
  ready: Ready;
  /** Sends a message and waits for the reply of the given type. */
  request<Reply>(message: object, replyType: string, timeoutMs?: number): Promise<Reply>;
  /** Asks the child to stop, then kills it if it has not exited in time. */
  stop(timeoutMs?: number): Promise<void>;
}

export async function forkTs<Ready extends { type: "ready" }>(
  file: string,
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<Forked<Ready>> {
  const child = fork(file, [], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const ready = await nextMessage<Ready>(child, "ready", timeoutMs);

  return {
    child,
    ready,
    async request<Reply>(message: object, replyType: string, requestTimeoutMs = 30_000) {
      const reply = nextMessage<Reply>(child, replyType, requestTimeoutMs);
      child.send(message);
      return reply;
    },
    async stop(stopTimeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      if (child.connected) child.send({ type: "stop" });
      else child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), stopTimeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

function nextMessage<T>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new Error(`no "${type}" message from ${child.spawnargs.join(" ")} in ${timeoutMs} ms`),
      );
    }, timeoutMs);
    const onMessage = (message: { type?: string; message?: string }) => {
      if (message?.type === type) {
        cleanup();
        resolve(message as T);
      } else if (message?.type === "error") {
        cleanup();
        reject(new Error(message.message ?? "child reported an error"));
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`child exited with ${code} before sending "${type}"`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.on("exit", onExit);
  });
}
