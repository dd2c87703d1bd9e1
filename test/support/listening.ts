import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { Socket } from "node:net";
import { networkInterfaces } from "node:os";

/**
 * Which addresses TCP servers listen on, read from the kernel (/proc/net/tcp
 * and tcp6, Linux), not from what a program says it does.
 */

export interface ListeningSocket {
  /** "127.0.0.1", "0.0.0.0", "::", "::1", ... */
  address: string;
  port: number;
  inode: number;
}

const LISTEN = "0A";

/** Every listening TCP socket of this network namespace. */
export function listeningSockets(): ListeningSocket[] {
  const sockets: ListeningSocket[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== LISTEN) continue;
      const [hexAddress, hexPort] = (fields[1] ?? "").split(":");
      sockets.push({
        address: decodeAddress(hexAddress ?? ""),
        port: Number.parseInt(hexPort ?? "", 16),
        inode: Number(fields[9]),
      });
    }
  }
  return sockets;
}

/** The listening sockets on `port` (an IPv4 and an IPv6 socket may share one). */
export function listenersOnPort(port: number): ListeningSocket[] {
  return listeningSockets().filter((socket) => socket.port === port);
}

/** The listening sockets that the given processes hold open. */
export function listenersOfProcesses(pids: number[]): Array<ListeningSocket & { pid: number }> {
  const byInode = new Map(listeningSockets().map((socket) => [socket.inode, socket]));
  const found: Array<ListeningSocket & { pid: number }> = [];
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      const socket = inode ? byInode.get(Number(inode)) : undefined;
      if (socket) found.push({ ...socket, pid });
    }
  }
  return found;
}

/** `root` and every process below it. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // ended meanwhile
    }
  }
  const tree: number[] = [];
  const visit = (pid: number) => {
    tree.push(pid);
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(root);
  return tree;
}

/** A non-loopback IPv4 address of this machine, if it has one. */
export function externalIPv4(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === "IPv4" && !address.internal) return address.address;
    }
  }
  return undefined;
}

/** True when a TCP connection to host:port is accepted within the timeout. */
export function tcpReachable(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.connect(port, host);
  });
}

function decodeAddress(hex: string): string {
  if (hex.length === 8) {
    // IPv4, one little-endian 32-bit word.
    const bytes = hex.match(/../g)?.map((byte) => Number.parseInt(byte, 16)) ?? [];
    return bytes.reverse().join(".");
  }
  // IPv6: four little-endian 32-bit words.
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((word) => (word.match(/../g) ?? []).reverse());
  const groups = (bytes.join("").match(/.{4}/g) ?? []).map((group) =>
    Number.parseInt(group, 16).toString(16),
  );
  const full = groups.join(":");
  if (full === "0:0:0:0:0:0:0:0") return "::";
  if (full === "0:0:0:0:0:0:0:1") return "::1";
  if (full.startsWith("0:0:0:0:0:ffff:")) {
    const [high = "0", low = "0"] = groups.slice(6);
    const value = (Number.parseInt(high, 16) << 16) | Number.parseInt(low, 16);
    return `::ffff:${[24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join(".")}`;
  }
  return full;
}
