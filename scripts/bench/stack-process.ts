import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { type RunningStack, startStack } from "../../local/stack.js";

/**
 * The server under test of `npm run bench`: the local stack (startStack, the
 * same as `npm start -- --no-demo`) in its own process, forked by the bench
 * so the load generator never shares its event loop. Controlled over IPC:
 *
 *   → { type: "ready", url, env, pids }   once serving
 *   ← { type: "profile-start" }           starts the V8 CPU profiler
 *   ← { type: "profile-stop", file }      writes the .cpuprofile, → { type: "profile-written", file }
 *   ← { type: "stop" }                    stops the stack and its services, exits
 *
 * The consumer is off (BENCH_CONSUMER_CONCURRENCY, default 0): in AWS it runs
 * in its own Lambdas, and here it would take CPU from the buy path on the same
 * cores. The bench drains the queue afterwards with the stack's consumer
 * settings and reports that rate separately.
 */

process.env.POWERTOOLS_LOG_LEVEL ??= "ERROR";

type Message =
  | { type: "profile-start" }
  | { type: "profile-stop"; file: string }
  | { type: "stop" };

let stack: RunningStack | undefined;
let session: Session | undefined;
let stopping = false;

async function stop(code = 0): Promise<never> {
  if (!stopping) {
    stopping = true;
    await stack?.stop({ removeData: true }).catch(() => {});
  }
  process.exit(code);
}

process.on("disconnect", () => void stop(0));
process.on("SIGTERM", () => void stop(143));
process.on("SIGINT", () => void stop(130));

process.on("message", (message: Message) => {
  void handle(message).catch((error: unknown) => {
    process.send?.({ type: "error", message: String(error) });
  });
});

async function handle(message: Message): Promise<void> {
  switch (message.type) {
    case "profile-start":
      session = new Session();
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.setSamplingInterval", { interval: 500 });
      await session.post("Profiler.start");
      process.send?.({ type: "profile-started" });
      return;
    case "profile-stop": {
      if (!session) throw new Error("the profiler is not running");
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      session = undefined;
      writeFileSync(message.file, JSON.stringify(profile));
      process.send?.({ type: "profile-written", file: message.file });
      return;
    }
    case "stop":
      await stop(0);
  }
}

try {
  stack = await startStack({
    port: 0,
    durable: true,
    consumer: { concurrency: Number(process.env.BENCH_CONSUMER_CONCURRENCY ?? 0) },
    // As npm start runs it: one HTTP worker process per core (0 = in this process).
    workers: Number(process.env.BENCH_WORKERS ?? 0),
    // No scheduled repair: with the consumer off, every accepted order waits in the queue,
    // and a repair run would take them for stale reservations and write them mid-measurement.
    repairIntervalMs: 0,
    // No draw runner either: the draw bench (entries.ts) times the draw in a process of its own.
    drawIntervalMs: 0,
    // The deployed stage's throttle (cdk.json, 5,000 req/s) is a setting, not a
    // cost: lifted here so the runs measure the buy path behind it.
    gateway: { throttleRateLimit: 1_000_000, throttleBurstLimit: 1_000_000 },
  });
  process.send?.({
    type: "ready",
    url: stack.url,
    env: stack.env,
    pids: {
      stack: process.pid,
      redis: stack.services.redis?.pid,
      postgres: stack.services.postgres?.pid,
      sqs: stack.services.sqs?.pid,
      workers: stack.workerPids,
    },
  });
} catch (error) {
  process.send?.({ type: "error", message: String(error) });
  await stop(1);
}
