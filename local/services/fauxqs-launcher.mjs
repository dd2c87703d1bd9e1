// The SQS server (fauxqs) as sqs-server.ts runs it. fauxqs's own CLI (startFauxqs)
// listens on 0.0.0.0, which would put the queues on every network of the machine;
// this builds the same app with the package's buildApp() and listens on loopback only.
//
//   FAUXQS_PORT=<port> node local/services/fauxqs-launcher.mjs
//
// Plain JavaScript so it starts without a TypeScript loader.
import { buildApp } from "fauxqs";

const port = Number(process.env.FAUXQS_PORT);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write("fauxqs-launcher: FAUXQS_PORT must be a port number\n");
  process.exit(2);
}
// Request logging only when asked for (FAUXQS_LOGGER=true): at a sale's rate it costs real CPU.
const app = buildApp({ logger: process.env.FAUXQS_LOGGER === "true" });
const address = await app.listen({ port, host: "127.0.0.1" });
process.stdout.write(`fauxqs listening on ${address}\n`);

let closing = false;
async function close(code) {
  if (closing) return;
  closing = true;
  await app.close().catch(() => {});
  process.exit(code);
}
process.on("SIGTERM", () => void close(0));
process.on("SIGINT", () => void close(0));
// Never outlive the process that started us: when it dies we are re-parented.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void close(1);
}, 500).unref();
