#!/usr/bin/env node
// One-time machine set-up, run before `npm start` and `npm test` (their pre-scripts).
// Plain JavaScript with no dependencies, because it runs before `npm ci`.
//
// - Installs the Debian packages the local services need (redis-server, postgresql)
//   when their binaries are missing. Needs root (or passwordless sudo) for apt-get.
// - With --with-browser (npm test, npm run setup, CI): also Debian's `chromium`, which the
//   dashboard's browser test drives through playwright-core (no browser download).
// - Installs node_modules with `npm ci` when they are missing or older than package-lock.json.
// - With --bench (npm run bench's pre-script), also the load generator `wrk`.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const quiet = process.argv.includes("--quiet");
const withBrowser = process.argv.includes("--with-browser");
const bench = process.argv.includes("--bench");
const say = (message) => quiet || console.log(`[setup] ${message}`);

function onPath(binary) {
  return (
    spawnSync("sh", ["-c", `command -v ${binary}`], { stdio: "ignore" }).status === 0 ||
    existsSync(`/usr/sbin/${binary}`) ||
    existsSync(`/usr/bin/${binary}`)
  );
}

function hasPostgresServer() {
  if (process.env.PG_BIN_DIR) return existsSync(join(process.env.PG_BIN_DIR, "postgres"));
  const base = "/usr/lib/postgresql";
  return (
    existsSync(base) && readdirSync(base).some((v) => existsSync(join(base, v, "bin", "postgres")))
  );
}

function hasPostgresUser() {
  return (
    process.getuid?.() !== 0 || spawnSync("id", ["postgres"], { stdio: "ignore" }).status === 0
  );
}

const missing = [];
if (!onPath("redis-server")) missing.push("redis-server");
if (!hasPostgresServer() || !hasPostgresUser()) missing.push("postgresql");
if (withBrowser && !existsSync("/usr/bin/chromium")) missing.push("chromium");
if (bench && !onPath("wrk")) missing.push("wrk");

if (missing.length > 0) {
  const asRoot = process.getuid?.() === 0;
  const sudo = asRoot ? [] : ["sudo", "-n"];
  if (!asRoot && !onPath("sudo")) {
    console.error(
      `[setup] missing Debian packages: ${missing.join(" ")}; install them as root:\n  apt-get update && apt-get install -y ${missing.join(" ")}`,
    );
    process.exit(1);
  }
  say(`installing Debian packages: ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const run = (args) =>
    execFileSync(sudo[0] ?? args[0], [...sudo.slice(1), ...(sudo.length ? args : args.slice(1))], {
      stdio: quiet ? "ignore" : "inherit",
      env,
    });
  run(["apt-get", "update", "-qq"]);
  run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", ...missing]);
  // Debian starts the packaged services on install where an init system runs;
  // ours run on their own ports, so the system-wide ones are not needed.
  spawnSync("sh", ["-c", "service redis-server stop; service postgresql stop"], {
    stdio: "ignore",
  });
}

const modules = join(root, "node_modules", ".package-lock.json");
const lock = join(root, "package-lock.json");
if (!existsSync(modules) || statSync(modules).mtimeMs < statSync(lock).mtimeMs) {
  say("installing node modules (npm ci)");
  execFileSync("npm", ["ci", "--no-audit", "--no-fund"], {
    cwd: root,
    stdio: quiet ? "ignore" : "inherit",
  });
}
say("ready");
