import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

/**
 * A fault-injecting TCP proxy on 127.0.0.1, for making a service unavailable
 * without stopping it.
 *
 * Why not just stop the SQS server? fauxqs keeps its queues in memory, so
 * stopping or killing it deletes every message it holds, which real SQS never
 * does: an SQS outage makes the endpoint unreachable or slow, and the queue's
 * contents are still there when it comes back. Putting this proxy between the
 * clients and fauxqs models exactly that: the endpoint goes away while the
 * queues survive.
 *
 * Modes:
 * - `pass`: forwards every connection to the target.
 * - `refuse`: resets new connections at once and every open one (as a
 *   stopped server or a dropped network does).
 * - `blackhole`: accepts connections and never answers; open connections stop
 *   forwarding in both directions (a hung endpoint; clients must time out).
 *   Switching back to `pass` resets the connections that were held.
 */

export type ProxyMode = "pass" | "refuse" | "blackhole";

export interface ProxyStats {
  /** Connections forwarded to the target. */
  forwarded: number;
  /** Connections reset by `refuse`, new or open. */
  refused: number;
  /** Connections accepted and held by `blackhole`, new or open. */
  blackholed: number;
}

export interface TcpProxy {
  readonly port: number;
  /** `http://127.0.0.1:<port>`, for HTTP services such as the SQS endpoint. */
  readonly url: string;
  readonly mode: ProxyMode;
  readonly stats: ProxyStats;
  setMode(mode: ProxyMode): void;
  /**
   * Sends new connections to another target from now on; open ones stay where
   * they are. This is a DNS record changing under clients that keep their
   * sockets, e.g. ElastiCache's primary endpoint after a failover.
   */
  retarget(port: number, host?: string): void;
  stop(): Promise<void>;
}

interface Link {
  client: Socket;
  upstream: Socket | undefined;
  held: boolean;
}

export async function startTcpProxy(options: {
  targetPort: number;
  targetHost?: string;
  /** Listening port; default a free one. */
  port?: number;
  mode?: ProxyMode;
}): Promise<TcpProxy> {
  let targetHost = options.targetHost ?? "127.0.0.1";
  let targetPort = options.targetPort;
  let mode: ProxyMode = options.mode ?? "pass";
  const links = new Set<Link>();
  const stats: ProxyStats = { forwarded: 0, refused: 0, blackholed: 0 };

  const drop = (link: Link) => {
    link.client.resetAndDestroy();
    link.upstream?.resetAndDestroy();
    links.delete(link);
  };
  const hold = (link: Link) => {
    link.held = true;
    link.client.unpipe();
    link.upstream?.unpipe();
    // Keep reading so the peer's writes do not back up; discard what arrives.
    link.client.removeAllListeners("data");
    link.client.on("data", () => {});
    link.upstream?.removeAllListeners("data");
    link.upstream?.on("data", () => {});
    link.client.resume();
    link.upstream?.resume();
  };

  const server: Server = createServer((client) => {
    const link: Link = { client, upstream: undefined, held: false };
    links.add(link);
    client.on("error", () => drop(link));
    client.on("close", () => {
      link.upstream?.destroy();
      links.delete(link);
    });
    if (mode === "refuse") {
      stats.refused++;
      drop(link);
      return;
    }
    if (mode === "blackhole") {
      stats.blackholed++;
      hold(link);
      return;
    }
    stats.forwarded++;
    const upstream = tcpConnect(targetPort, targetHost);
    link.upstream = upstream;
    upstream.on("error", () => drop(link));
    upstream.on("close", () => {
      if (!link.held) client.destroy();
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address !== "object") throw new Error("proxy has no address");
  const port = address.port;

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get mode() {
      return mode;
    },
    stats,
    setMode(next: ProxyMode) {
      if (next === mode) return;
      const previous = mode;
      mode = next;
      for (const link of [...links]) {
        if (next === "refuse") {
          stats.refused++;
          drop(link);
        } else if (next === "blackhole" && !link.held) {
          stats.blackholed++;
          hold(link);
        } else if (next === "pass" && previous === "blackhole" && link.held) {
          drop(link);
        }
      }
    },
    retarget(port: number, host = targetHost) {
      targetPort = port;
      targetHost = host;
    },
    async stop() {
      for (const link of [...links]) drop(link);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
