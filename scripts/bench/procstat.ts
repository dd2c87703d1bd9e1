import { readdirSync, readFileSync } from "node:fs";

/**
 * CPU time of processes and of the machine, from /proc (Linux), so the bench
 * can say which process used the cores during a run.
 */

const TICKS_PER_SECOND = 100; // USER_HZ; 100 on every Linux this runs on

interface ProcStat {
  ppid: number;
  cpuSeconds: number;
}

function readProcStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces and parentheses; fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return {
      ppid: Number(fields[1]),
      cpuSeconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND,
    };
  } catch {
    return null;
  }
}

/** The pid and all its descendants that are alive now. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readProcStat(pid);
    if (!stat) continue;
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid]);
  }
  const tree: number[] = [];
  const visit = (pid: number) => {
    tree.push(pid);
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(root);
  return tree;
}

/** CPU seconds (user + system) used so far by the pid, plus descendants when asked. */
export function cpuSeconds(pid: number, withDescendants = false): number {
  const pids = withDescendants ? processTree(pid) : [pid];
  return pids.reduce((sum, p) => sum + (readProcStat(p)?.cpuSeconds ?? 0), 0);
}

/** Busy CPU seconds of the whole machine (all cores) so far. */
export function machineBusySeconds(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const [, ...values] = line.trim().split(/\s+/);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = values.map(Number);
  return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
}

export interface CpuWatch {
  /** Tracks one more process from now on (e.g. the load generator once spawned). */
  add(label: string, pid: number): void;
  /** Percent of one core each named process used since start, and the machine's remainder. */
  stop(): Record<string, number>;
}

/**
 * Starts measuring; `tracked` maps a label to a pid (with `tree` to include
 * the pid's descendants, e.g. Postgres backends). Samples twice a second, so a
 * process that exits before stop() still counts up to its last sample.
 */
export function watchCpu(tracked: Record<string, { pid: number; tree?: boolean }>): CpuWatch {
  const started = performance.now();
  const entries = new Map(
    Object.entries(tracked).map(([label, { pid, tree }]) => {
      const now = cpuSeconds(pid, tree);
      return [label, { pid, tree: tree ?? false, before: now, last: now }];
    }),
  );
  const sample = () => {
    for (const entry of entries.values()) {
      const now = cpuSeconds(entry.pid, entry.tree);
      if (now > 0) entry.last = Math.max(entry.last, now);
    }
  };
  const sampler = setInterval(sample, 500);
  const machineBefore = machineBusySeconds();
  return {
    add(label, pid) {
      entries.set(label, { pid, tree: false, before: 0, last: cpuSeconds(pid) });
    },
    stop() {
      clearInterval(sampler);
      sample();
      const seconds = (performance.now() - started) / 1000;
      const usage: Record<string, number> = {};
      let accounted = 0;
      for (const [label, entry] of entries) {
        const used = Math.max(0, entry.last - entry.before);
        accounted += used;
        usage[label] = Math.round((used / seconds) * 100);
      }
      const machine = machineBusySeconds() - machineBefore;
      usage["rest of the machine"] = Math.max(
        0,
        Math.round(((machine - accounted) / seconds) * 100),
      );
      return usage;
    },
  };
}
