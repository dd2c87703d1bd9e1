/**
 * Summarizes a V8 CPU profile (.cpuprofile, as `node --cpu-prof` or the
 * inspector's Profiler writes it): self time per function and per package,
 * so the bench can say where a run's time went.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Share of samples in which the process was idle (waiting for I/O). */
  idlePercent: number;
  topFunctions: SelfTime[];
  /**
   * Self time per package, where time in Node's internals and native code is
   * charged to the package that called into them (e.g. the HMAC of a request
   * signature counts for the SDK's signer, not for node:crypto).
   */
  byPackage: Array<{ name: string; ms: number; percent: number }>;
}

const SPECIAL = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);

/** node_modules/<pkg> (scoped too), node:internal, or the project folder a file is in. */
export function packageOf(url: string, functionName: string): string {
  if (SPECIAL.has(functionName)) return functionName;
  if (url === "") return "(native)";
  if (url.startsWith("node:")) return "node (internals)";
  const modules = url.lastIndexOf("node_modules/");
  if (modules >= 0) {
    const parts = url.slice(modules + "node_modules/".length).split("/");
    return parts[0]?.startsWith("@") ? `${parts[0]}/${parts[1]}` : (parts[0] ?? url);
  }
  const project = /\/(lambdas|local|scripts)\/([^/]+)/.exec(url);
  if (project) return `project ${project[1]}/${project[2]}`;
  return url;
}

function shortLocation(url: string, line: number): string {
  if (url === "") return "";
  const modules = url.lastIndexOf("node_modules/");
  const path =
    modules >= 0
      ? url.slice(modules + "node_modules/".length)
      : url.replace(/^.*?\/(lambdas|local|scripts)\//, "$1/");
  return `${path.replace(/^file:\/\//, "")}:${line + 1}`;
}

export function summarizeProfile(profile: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  const chargedPackage = (id: number): string => {
    let current: number | undefined = id;
    while (current !== undefined) {
      const frame = byId.get(current)?.callFrame;
      if (!frame) break;
      const pkg = packageOf(frame.url, frame.functionName);
      if (pkg !== "(native)" && pkg !== "node (internals)") return pkg;
      current = parentOf.get(current);
    }
    return packageOf(byId.get(id)?.callFrame.url ?? "", byId.get(id)?.callFrame.functionName ?? "");
  };
  const label = (pkg: string) =>
    pkg === "(root)" ? "(native, no JS caller: event-loop I/O such as socket writev)" : pkg;
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;
  const functions = new Map<string, { name: string; where: string; us: number }>();
  const packages = new Map<string, number>();
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    if (frame.functionName === "(idle)") idleUs += us;
    const name = frame.functionName || "(anonymous)";
    const where = shortLocation(frame.url, frame.lineNumber);
    const key = `${name}@${where}`;
    const entry = functions.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    functions.set(key, entry);
    const pkg = label(chargedPackage(id));
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
  }
  const pct = (us: number) => Math.round((us / totalUs) * 1000) / 10;
  return {
    totalMs: Math.round(totalUs / 1000),
    idlePercent: pct(idleUs),
    topFunctions: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({
        name: f.name,
        where: f.where,
        ms: Math.round(f.us / 1000),
        percent: pct(f.us),
      })),
    byPackage: [...packages.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000), percent: pct(us) })),
  };
}
