import { localJwtSettings } from "./auth.js";
import { type GatewaySettings, perWorker, stackGatewaySettings } from "./gateway.js";
import { createHttpHost, listen, loadRouteHandlers } from "./http-host.js";

/**
 * One HTTP worker of the local API Gateway (see stack.ts): a process with its
 * own copy of every handler module, as each Lambda container has. The cluster
 * primary shares the listening port between workers, the way Lambda scales a
 * function out to many containers behind one API; the stage throttle is
 * shared out between them (LOCAL_HTTP_WORKERS).
 */
const port = Number(process.env.LOCAL_HTTP_PORT);
const host = process.env.LOCAL_HTTP_HOST ?? "127.0.0.1";
const workers = Number(process.env.LOCAL_HTTP_WORKERS ?? 1);
const server = createHttpHost({
  handlers: await loadRouteHandlers(),
  jwt: localJwtSettings(),
  gateway: perWorker(
    {
      ...stackGatewaySettings(),
      ...(JSON.parse(process.env.LOCAL_GATEWAY_OVERRIDES || "{}") as Partial<GatewaySettings>),
    },
    workers,
  ),
});
await listen(server, port, host);
process.send?.({ ready: true });
process.on("disconnect", () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
