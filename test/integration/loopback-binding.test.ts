import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { localJwtSettings } from "../../local/auth.js";
import { createHttpHost, listen, loadRouteHandlers } from "../../local/http-host.js";
import { startLocalServices, startTcpProxy } from "../../local/services/index.js";
import { isAlive } from "../../local/services/processes.js";
import {
  externalIPv4,
  listenersOfProcesses,
  listenersOnPort,
  processTree,
  tcpReachable,
} from "../support/listening.js";
import { startNpmStart, waitForDeath } from "../support/npm-start.js";

/**
 * Every service the tests and `npm start` run listens on 127.0.0.1 only: read
 * from the kernel's socket tables, and checked by connecting to a
 * non-loopback address of this machine (skipped only when it has none).
 */

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  cleanups.length = 0;
});

const external = externalIPv4();

async function expectLoopbackOnly(name: string, port: number): Promise<void> {
  const listeners = listenersOnPort(port);
  expect(listeners.length, `${name} (port ${port}) listens`).toBeGreaterThan(0);
  expect(
    listeners.map((socket) => socket.address),
    `${name} (port ${port}) listens on 127.0.0.1 only`,
  ).toEqual(listeners.map(() => "127.0.0.1"));
  expect(await tcpReachable("127.0.0.1", port), `${name} answers on 127.0.0.1`).toBe(true);
  if (external) {
    expect(await tcpReachable(external, port), `${name} unreachable on ${external}`).toBe(false);
  }
}

describe("local services bind 127.0.0.1", () => {
  it("redis-server, Postgres, the SQS server, the fault proxy and the local HTTP host", async () => {
    const services = await startLocalServices();
    cleanups.push(() => services.stop({ removeData: true }));
    const proxy = await startTcpProxy({ targetPort: services.redis?.port ?? 0 });
    cleanups.push(() => proxy.stop());
    const server: Server = createHttpHost({
      handlers: await loadRouteHandlers(),
      jwt: localJwtSettings({}),
    });
    await listen(server, 0);
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));

    await expectLoopbackOnly("redis-server", services.redis?.port ?? 0);
    await expectLoopbackOnly("postgres", services.postgres?.port ?? 0);
    await expectLoopbackOnly("SQS server (fauxqs)", services.sqs?.port ?? 0);
    await expectLoopbackOnly("TCP proxy", proxy.port);
    await expectLoopbackOnly("local HTTP host", (server.address() as AddressInfo).port);
  });

  it("`npm start`: every socket its processes listen on is on 127.0.0.1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flash-sale-start-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const start = await startNpmStart(["--data-dir", dir], {
      LOCAL_JWT_SECRET: "loopback-binding-test-secret",
    });
    cleanups.push(() => start.stop());

    const tree = processTree(start.child.pid ?? 0);
    const listeners = listenersOfProcesses(tree);
    const apiPort = Number(new URL(start.url).port);
    // The API, redis-server, Postgres and fauxqs at least.
    expect(new Set(listeners.map((socket) => socket.port)).size).toBeGreaterThanOrEqual(4);
    expect(listeners.map((socket) => socket.port)).toContain(apiPort);
    for (const socket of listeners) {
      expect(socket.address, `pid ${socket.pid} port ${socket.port}`).toBe("127.0.0.1");
      if (external) expect(await tcpReachable(external, socket.port)).toBe(false);
    }

    // A secret of our own: no development-secret warning.
    expect(start.output()).not.toContain("development secret");
    await start.stop();
    await waitForDeath(tree);
    expect(tree.filter(isAlive)).toEqual([]);
  });
});
