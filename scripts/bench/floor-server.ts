import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * The floor of `npm run bench`: a bare node:http server that answers every
 * request with a constant, after reading its body. Nothing any server does on
 * this machine with this client can be faster; a scenario's ratio to it says
 * how much of the time is the machine, the kernel and the client.
 *
 * Sends { type: "ready", url, pid } over IPC (or prints it) once listening.
 */
const BODY = '{"ok":true}';

const server = createServer((request, response) => {
  request.resume();
  request.on("end", () => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(BODY);
  });
});
server.keepAliveTimeout = 65_000;

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  const ready = { type: "ready", url: `http://127.0.0.1:${port}`, pid: process.pid };
  if (process.send) process.send(ready);
  else process.stdout.write(`${JSON.stringify(ready)}\n`);
});

const stop = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.on("message", (message: { type?: string }) => {
  if (message?.type === "stop") stop();
});
process.on("disconnect", stop);
