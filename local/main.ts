import { join } from "node:path";
import { parseArgs } from "node:util";
import { localJwtSettings } from "./auth.js";
import { createHttpHost, listen, loadRouteHandlers } from "./http-host.js";
import { PROJECT_ROOT, startLocalServices } from "./services/index.js";

/**
 * `npm start`: the whole system on this machine. Real redis-server, Postgres
 * and an SQS-protocol server as child processes, and the Lambda handlers
 * behind a local API Gateway.
 */

const { values: args } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
  },
  allowPositionals: false,
});

// The SDK warns on Node 20; Lambda runs Node 22, so locally it is noise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
const port = Number(args.port ?? process.env.PORT ?? 3000);
const services = await startLocalServices({
  dir: join(PROJECT_ROOT, ".local", "stack"),
  durable: true,
});

let stopping = false;
async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log("\nstopping local stack ...");
    await services.stop();
  }
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

try {
  // The handlers read the same variables the CDK stack sets in AWS.
  Object.assign(process.env, services.env(), {
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? "WARN",
  });
  const server = createHttpHost({ handlers: await loadRouteHandlers(), jwt: localJwtSettings() });
  const bound = await listen(server, port, args.host);
  const env = services.env();
  console.log(
    [
      "Flash Sale Engine: local stack is up",
      `  API (API Gateway v2 emulation)  http://${args.host}:${bound}`,
      `  Redis                           ${env.REDIS_URL}`,
      `  Postgres                        ${env.DATABASE_URL}`,
      `  SQS endpoint                    ${env.SQS_ENDPOINT}`,
      `  orders queue                    ${env.ORDERS_QUEUE_URL}`,
      `  data and logs                   ${services.dir}`,
      "Ctrl-C stops everything.",
    ].join("\n"),
  );
} catch (error) {
  console.error(error);
  await shutdown(1);
}
