import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * Every file, folder, npm script and script name the docs (README.md,
 * docs/*.md) and the test names mention exists, so the docs cannot go stale
 * silently when something is renamed or removed.
 */
const ROOT = join(import.meta.dirname, "..", "..");
const tracked = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], {
  cwd: ROOT,
  encoding: "utf8",
})
  .split("\n")
  .filter(Boolean);
const trackedNames = new Set(tracked.map((file) => basename(file)));
const trackedDirs = new Set(tracked.flatMap((file) => ancestors(file)));

function ancestors(file: string): string[] {
  const dirs: string[] = [];
  for (let dir = dirname(file); dir !== "."; dir = dirname(dir)) dirs.push(`${dir}/`);
  return dirs;
}

/** What a run writes (git-ignored) and what a reader supplies: named in the docs, never in git. */
const GENERATED_OR_SUPPLIED = [
  /^\.local\//,
  /^bench\//,
  /^cdk\.out/,
  /^test-results\//,
  /^loadtest\/\.runs\//,
  /^loadtest\/node_modules/,
  /^node_modules\//,
  /^(outputs\.json|buyers\.txt|admin\.jwt|index\.mjs|run\.json|accepted\.ndjson|summary\.md)$/,
  /\.cpuprofile$/,
  /^(postmaster\.pid|appendonly\.aof|env\.json)$/,
];

const FILE_LIKE =
  /^[\w.@{}<>*|-]+(?:\/[\w.@{}<>*|-]*)*\.(?:ts|mjs|js|lua|sql|json|ya?ml|md|html|css|sh)$|^[\w.-]+(?:\/[\w.-]+)*\/$/;

/** Backticked names in markdown, and link targets. */
function namesIn(markdown: string): string[] {
  const names = [...markdown.matchAll(/`([^`\n]+)`/g)].map((m) => (m[1] as string).trim());
  return names;
}

function exists(name: string, from: string): boolean {
  const clean = name.replace(/^\.\//, "");
  if (GENERATED_OR_SUPPLIED.some((pattern) => pattern.test(clean))) return true;
  if (/[{}<>*|]/.test(clean)) return true; // a pattern, e.g. lua/*.lua or reserve-<n>.lua
  if (!clean.includes("/")) return trackedNames.has(clean);
  if (clean.endsWith("/")) {
    return trackedDirs.has(clean) || trackedDirs.has(normalize(join(from, clean)) + "/");
  }
  return existsSync(join(ROOT, clean)) || existsSync(join(ROOT, from, clean));
}

const docs = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`),
];
const scripts = Object.keys(
  (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: object }).scripts,
);

describe("names in the docs", () => {
  it.each(docs)("%s names only files and folders that exist", (doc) => {
    const text = readFileSync(join(ROOT, doc), "utf8");
    const missing = namesIn(text)
      .flatMap((code) => code.split(/\s+/))
      .map((word) => word.replace(/[,;:)(]+$/, "").replace(/^[(]+/, ""))
      .filter((word) => FILE_LIKE.test(word) && !/^https?:/.test(word))
      .filter((word) => !exists(word, dirname(doc)));
    expect([...new Set(missing)]).toEqual([]);
  });

  it.each(docs)("%s links only to files that exist", (doc) => {
    const text = readFileSync(join(ROOT, doc), "utf8");
    const missing = [...text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
      .map((m) => m[1] as string)
      .filter((target) => !/^[a-z]+:/.test(target))
      .filter((target) => !existsSync(join(ROOT, dirname(doc), target)));
    expect(missing).toEqual([]);
  });

  it.each(docs)("%s names only npm scripts that exist", (doc) => {
    const text = readFileSync(join(ROOT, doc), "utf8");
    // `npm run loadtest:*` names a family of scripts, not one.
    const named = [...text.matchAll(/npm run (?:-s )?([\w:-]+)(?![\w:*-])/g)].map(
      (m) => m[1] as string,
    );
    expect(named.filter((script) => !scripts.includes(script))).toEqual([]);
  });
});

describe("names in the test names", () => {
  it("every file a describe/it title names exists", () => {
    const testFiles = tracked.filter((file) => /^test\/.*\.test\.ts$/.test(file));
    const missing = testFiles.flatMap((file) => {
      const source = readFileSync(join(ROOT, file), "utf8");
      const titles = [
        ...source.matchAll(/\b(?:describe|it|test)(?:\.each\([^)]*\))?\(\s*"([^"]+)"/g),
      ];
      return titles.flatMap((m) =>
        [...(m[1] as string).matchAll(/[\w./-]+\.(?:ts|lua|sql|json|yml|mjs)\b/g)]
          .map((n) => n[0])
          .filter((name) => !exists(name, "."))
          .map((name) => `${file}: ${name}`),
      );
    });
    expect(missing).toEqual([]);
  });
});
