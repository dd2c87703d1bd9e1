import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { App, type CfnElement, type Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { HttpRouteDefinition } from "../../../lambdas/registry.js";
import { readSettings } from "../../../lib/config.js";
import { FlashSaleStack } from "../../../lib/flash-sale-stack.js";
import { LocalStackFlashSaleStack } from "../../../lib/localstack-stack.js";
import { PROJECT_ROOT } from "../../../lib/paths.js";

/**
 * Builds the apps the tests inspect the way `npx cdk synth` does: with the
 * context of cdk.json (feature flags and defaults) plus the test's overrides.
 * Bundling is skipped unless asked for (esbuild has its own test), so a synth
 * takes about two seconds.
 */

export const fixture = (name: string) =>
  fileURLToPath(new URL(`../fixtures/${name}.ts`, import.meta.url));

export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(`${PROJECT_ROOT}/cdk.json`, "utf8")) as {
    context: Record<string, unknown>;
  };
  return cdkJson.context;
}

export interface SynthOptions {
  context?: Record<string, unknown>;
  /** Run esbuild (default false). */
  bundle?: boolean;
  /** Routes instead of lambdas/registry.ts. */
  routes?: readonly HttpRouteDefinition[];
  /**
   * Entry files for handlers that lambdas/handlers/ does not have (routes the
   * tests invent); every other function uses its real entry.
   */
  entries?: Record<string, string>;
}

function newApp(options: SynthOptions): App {
  return new App({
    context: {
      ...cdkJsonContext(),
      ...(options.bundle ? {} : { "aws:cdk:bundling-stacks": [] }),
      ...options.context,
    },
  });
}

export function awsApp(options: SynthOptions = {}): { app: App; stack: FlashSaleStack } {
  const app = newApp(options);
  const stack = new FlashSaleStack(app, "FlashSale-test", {
    settings: readSettings(app.node),
    routes: options.routes,
    entryOverrides: options.entries,
  });
  return { app, stack };
}

export function localStackApp(options: SynthOptions = {}): {
  app: App;
  stack: LocalStackFlashSaleStack;
} {
  const app = newApp({ ...options, context: { target: "localstack", ...options.context } });
  const stack = new LocalStackFlashSaleStack(app, "FlashSale-test-local", {
    settings: readSettings(app.node),
    routes: options.routes,
    entryOverrides: options.entries,
  });
  return { app, stack };
}

export const templateOf = (stack: Stack) => Template.fromStack(stack);

/** A template resource; the ones the tests read all have Properties. */
type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: unknown };

/** Resources of a type, by logical id. */
export function resourcesOf(template: Template, type: string): Record<string, Resource> {
  return template.findResources(type) as Record<string, Resource>;
}

/** The one Lambda function whose logical id starts with Functions<name> (dashes dropped). */
export function functionOf(template: Template, handler: string): [string, Resource] {
  const prefix = `Functions${handler.replace(/-/g, "")}`;
  const matches = Object.entries(resourcesOf(template, "AWS::Lambda::Function")).filter(([id]) =>
    new RegExp(`^${prefix}[0-9A-F]{8}$`).test(id),
  );
  if (matches.length !== 1)
    throw new Error(`expected one function ${prefix}, got ${matches.length}`);
  return matches[0] as [string, Resource];
}

/** Every IAM action granted by the policies attached to a role. */
export function actionsOfRole(template: Template, roleLogicalId: string): string[] {
  const actions: string[] = [];
  for (const policy of Object.values(resourcesOf(template, "AWS::IAM::Policy"))) {
    const roles = (policy.Properties.Roles ?? []) as { Ref?: string }[];
    if (!roles.some((role) => role.Ref === roleLogicalId)) continue;
    const doc = policy.Properties.PolicyDocument as { Statement: { Action: string | string[] }[] };
    for (const statement of doc.Statement) actions.push(...[statement.Action].flat());
  }
  return actions.sort();
}

/**
 * Synthesizes the production configuration (real handlers, esbuild bundling)
 * into a fresh folder under cdk.out/, and returns each function's bundle
 * folder by handler name. Inside the repository, so the bundles resolve the
 * runtime-provided modules (@aws-sdk/*) from node_modules like Lambda does
 * from its runtime, and outside lua/'s reach, so nothing falls back to disk.
 */
export function bundledAwsApp(context: Record<string, unknown> = {}): {
  outdir: string;
  bundles: Map<string, string>;
  template: Template;
} {
  mkdirSync(join(PROJECT_ROOT, "cdk.out"), { recursive: true });
  const outdir = mkdtempSync(join(PROJECT_ROOT, "cdk.out", "test-"));
  const app = new App({ outdir, context: { ...cdkJsonContext(), ...context } });
  const stack = new FlashSaleStack(app, "FlashSale-bundled", { settings: readSettings(app.node) });
  const template = Template.fromStack(stack);
  const bundles = new Map<string, string>();
  for (const [name, fn] of stack.functions.byName) {
    const logicalId = stack.getLogicalId(fn.node.defaultChild as CfnElement);
    const code = resourcesOf(template, "AWS::Lambda::Function")[logicalId]?.Properties.Code as {
      S3Key: string;
    };
    bundles.set(name, join(outdir, `asset.${code.S3Key.replace(/\.zip$/, "")}`));
  }
  return { outdir, bundles, template };
}

/** Like bundledAwsApp, for the LocalStack target (the REST adapter bundles). */
export function bundledLocalStackApp(context: Record<string, unknown> = {}): {
  outdir: string;
  bundles: Map<string, string>;
  template: Template;
} {
  mkdirSync(join(PROJECT_ROOT, "cdk.out"), { recursive: true });
  const outdir = mkdtempSync(join(PROJECT_ROOT, "cdk.out", "test-"));
  const app = new App({
    outdir,
    context: { ...cdkJsonContext(), target: "localstack", ...context },
  });
  const stack = new LocalStackFlashSaleStack(app, "FlashSale-bundled-local", {
    settings: readSettings(app.node),
  });
  const template = Template.fromStack(stack);
  const bundles = new Map<string, string>();
  for (const [name, fn] of stack.functions.byName) {
    const logicalId = stack.getLogicalId(fn.node.defaultChild as CfnElement);
    const code = resourcesOf(template, "AWS::Lambda::Function")[logicalId]?.Properties.Code as {
      S3Key: string;
    };
    bundles.set(name, join(outdir, `asset.${code.S3Key.replace(/\.zip$/, "")}`));
  }
  return { outdir, bundles, template };
}

/** A function's environment variables. */
export function envOf(template: Template, handler: string): Record<string, unknown> {
  const environment = functionOf(template, handler)[1].Properties.Environment as
    | { Variables?: Record<string, unknown> }
    | undefined;
  return environment?.Variables ?? {};
}

/** Logical id of a function's execution role. */
export function roleOf(template: Template, handler: string): string {
  const role = functionOf(template, handler)[1].Properties.Role as {
    "Fn::GetAtt": [string, string];
  };
  return role["Fn::GetAtt"][0];
}

/** Logical id of a function's (only) security group. */
export function securityGroupOf(template: Template, handler: string): string {
  const vpcConfig = functionOf(template, handler)[1].Properties.VpcConfig as {
    SecurityGroupIds: { "Fn::GetAtt": [string, string] }[];
  };
  const [group, ...others] = vpcConfig.SecurityGroupIds;
  if (!group || others.length > 0) throw new Error(`${handler}: expected one security group`);
  return group["Fn::GetAtt"][0];
}

/** `{ "Fn::GetAtt": [id, "Arn"] }` or `{ Ref: id }` -> id; anything else as JSON. */
function resourceName(resource: unknown): string {
  if (typeof resource === "string") return resource;
  const value = resource as { Ref?: string; "Fn::GetAtt"?: [string, string] };
  if (value.Ref) return value.Ref;
  if (value["Fn::GetAtt"]) return value["Fn::GetAtt"][0];
  return JSON.stringify(resource);
}

/**
 * What a role's inline policies allow, as "action on resource" pairs where the
 * resource is the logical id it points at (e.g. "sqs:SendMessage on OrdersQueueC538DD4C").
 * Managed policies (logging, VPC, X-Ray) are not included.
 */
export function grantsOfRole(template: Template, roleLogicalId: string): string[] {
  const grants = new Set<string>();
  for (const policy of Object.values(resourcesOf(template, "AWS::IAM::Policy"))) {
    const roles = (policy.Properties.Roles ?? []) as { Ref?: string }[];
    if (!roles.some((role) => role.Ref === roleLogicalId)) continue;
    const doc = policy.Properties.PolicyDocument as {
      Statement: { Effect: string; Action: string | string[]; Resource: unknown }[];
    };
    for (const statement of doc.Statement) {
      if (statement.Effect !== "Allow") continue;
      for (const action of [statement.Action].flat()) {
        for (const resource of [statement.Resource].flat()) {
          grants.add(`${action} on ${resourceName(resource)}`);
        }
      }
    }
  }
  return [...grants].sort();
}

/** The one resource of a type whose logical id starts with a prefix. */
export function logicalIdOf(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(resourcesOf(template, type)).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1) throw new Error(`expected one ${type} ${prefix}*, got ${ids.length}`);
  return ids[0] as string;
}
