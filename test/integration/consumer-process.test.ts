import { describe, expect, it } from "vitest";
import { runDemo } from "../../local/demo.js";
import { isAlive } from "../../local/services/processes.js";
import { startStack } from "../../local/stack.js";

/**
 * The consumer in a process of its own (local/consumer-worker.ts), as
 * `npm start` runs it with HTTP workers: supervised by the stack's process,
 * started again when it dies, stopped with the stack. A file of its own: the
 * in-process HTTP host's handler modules keep the first stack's clients.
 */
describe("the local stack's consumer process", () => {
  it("the consumer in a process of its own (as with HTTP workers) is restarted when it dies", async () => {
    const stack = await startStack({
      port: 0,
      consumer: { batchSize: 10, batchingWindowMs: 20, inProcess: false },
    });
    const pids: number[] = [];
    try {
      const first = stack.consumer.pid ?? 0;
      pids.push(first);
      expect(first).toBeGreaterThan(0);
      expect(first).not.toBe(process.pid);
      process.kill(first, "SIGKILL");
      const deadline = Date.now() + 15_000;
      while (
        (stack.consumer.pid === first || !isAlive(stack.consumer.pid ?? 0)) &&
        Date.now() < deadline
      )
        await new Promise((resolve) => setTimeout(resolve, 100));
      const second = stack.consumer.pid ?? 0;
      pids.push(second);
      expect(second).not.toBe(first);
      expect(stack.consumer.restarts).toBe(1);
      // The restarted consumer persists what the buy path accepts.
      const summary = await runDemo({ url: stack.url, env: stack.env, stock: 10, buyers: 40 });
      expect(summary).toMatchObject({ accepted: 10, sold: 10, oversold: 0, rows: 10, ok: true });
    } finally {
      await stack.stop({ removeData: true });
    }
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
  });
});
