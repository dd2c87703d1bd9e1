import { App, type CfnElement, Stack, Validations } from "aws-cdk-lib";
import { Queue } from "aws-cdk-lib/aws-sqs";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { HTTP_ROUTES } from "../../lambdas/registry.js";
import { parseRouteKey } from "../../lib/constructs/http-api.js";
import { handlerCatalog, MIGRATE_HANDLER } from "../../lib/handlers.js";
import { PROJECT_ROOT } from "../../lib/paths.js";
import { awsApp } from "./support/apps.js";

/** Every AwsSolutions acknowledgment recorded under a stack: rule id -> where (path in the stack) and why. */
function acknowledgments(stack: Stack): Map<string, { where: string; reason: string }[]> {
  const found = new Map<string, { where: string; reason: string }[]>();
  for (const construct of stack.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        const rule = id.replace(/^Annotation::/, "");
        if (!rule.startsWith("AwsSolutions-")) continue; // CDK's own acknowledgments
        const where = construct.node.path.slice(stack.node.path.length + 1);
        found.set(rule, [...(found.get(rule) ?? []), { where, reason }]);
      }
    }
  }
  return found;
}

function violations(app: App): string[] {
  const report = new AwsSolutionsChecks().validateScope(app);
  return report.violations.map(
    (violation) =>
      `${violation.ruleName}: ${violation.violatingResources.map((r) => r.resourceLogicalId).join(", ")}`,
  );
}

describe("cdk-nag AwsSolutions", () => {
  it("reports nothing unacknowledged on the default stack (consumer and migrations included)", () => {
    expect(violations(awsApp().app)).toEqual([]);
  });

  it("reports nothing unacknowledged with every option turned on (prod stage)", () => {
    const { app, stack } = awsApp({
      context: {
        stage: "prod",
        jwtIssuer: "https://issuer.test/",
        jwtAudience: "flash-sale-api",
        dbReaders: 1,
        buyReservedConcurrency: 200,
        buyProvisionedConcurrency: 10,
        alarmEmail: "oncall@example.com",
      },
    });
    expect(violations(app)).toEqual([]);
    // Prod keeps deletion protection, so its acknowledgment is not even recorded.
    expect(acknowledgments(stack).has("AwsSolutions-RDS10")).toBe(false);
  });

  it("acknowledges only this reviewed list of rules, where they apply, each with a reason", () => {
    const { stack } = awsApp();
    const migrate = stack.functions.get(MIGRATE_HANDLER);
    if (!migrate) throw new Error("no migration function");
    const migrateId = stack.getLogicalId(migrate.node.defaultChild as CfnElement);
    // Every function, whatever lambdas/registry.ts adds: the same three, for the same reasons
    // (lib/constructs/flash-sale-function.ts).
    const functions = handlerCatalog({ projectRoot: PROJECT_ROOT }).map(
      (s) => `Functions/${s.name}`,
    );
    const managed = "Policy::arn:<AWS::Partition>:iam::aws:policy";
    // Public routes only (authorization "none"), on their HTTP API route.
    const publicRoutes = HTTP_ROUTES.filter((route) => route.authorization === "none").map(
      (route) => {
        const { method, path } = parseRouteKey(route.routeKey);
        return `HttpApi/Api/${method}${path.replace(/\//g, "--")}`;
      },
    );
    expect(publicRoutes.length).toBeGreaterThan(0);

    const expected: Record<string, string[]> = {
      // AWS's minimal logging policy; the migration provider's own function uses it too.
      [`AwsSolutions-IAM4[${managed}/service-role/AWSLambdaBasicExecutionRole]`]: [
        ...functions,
        "Migrations/Provider",
      ],
      // ENI actions of VPC functions have no resource-level permissions.
      [`AwsSolutions-IAM4[${managed}/service-role/AWSLambdaVPCAccessExecutionRole]`]: functions,
      // X-Ray's write actions have no resource-level permissions.
      [`AwsSolutions-IAM4[${managed}/AWSXRayDaemonWriteAccess]`]: functions,
      // The provider framework may invoke the one migration function (and its versions).
      [`AwsSolutions-IAM5[Resource::<${migrateId}.Arn>:*]`]: ["Migrations/Provider"],
      // Public by design.
      "AwsSolutions-APIG4": publicRoutes,
      // No rotation yet (clients must re-read secrets first); the webhook secret is Stripe's to roll.
      "AwsSolutions-SMG4": ["Cache/AuthToken", "Database/Cluster/Secret", "PaymentWebhookSecret"],
      // Default ports kept: security groups, TLS and credentials do the protecting.
      "AwsSolutions-AEC5": ["Cache/ReplicationGroup"],
      "AwsSolutions-RDS11": ["Database/Cluster"],
      // Deletion protection off for non-prod stages only.
      "AwsSolutions-RDS10": ["Database/Cluster"],
      // Ingress is the VPC CIDR, a token cdk-nag cannot evaluate.
      "AwsSolutions-EC23": [
        "Network/Vpc/SqsEndpoint",
        "Network/Vpc/SecretsManagerEndpoint",
        "Network/Vpc/EventsEndpoint",
      ],
      // Alarm notifications only.
      "AwsSolutions-SNS2": ["Monitoring/AlarmTopic"],
      // It is the dead-letter queue.
      "AwsSolutions-SQS3": ["Orders/DeadLetterQueue"],
    };

    const acknowledged = acknowledgments(stack);
    expect([...acknowledged.keys()].sort()).toEqual(Object.keys(expected).sort());
    for (const [rule, places] of acknowledged) {
      expect(places.map((p) => p.where).sort(), rule).toEqual([...(expected[rule] ?? [])].sort());
      for (const { where, reason } of places) {
        expect(reason.length, `${rule} on ${where}`).toBeGreaterThan(40);
      }
    }
  });

  it("acknowledges the edge's rules on the distribution and its origin secret only, with reasons (prod)", () => {
    const { app, stack } = awsApp({
      context: {
        stage: "prod",
        jwtIssuer: "https://issuer.test/",
        edgeBotControl: "true",
        edgeBuyChallenge: "challenge",
        corsOrigins: "https://shop.example.com",
      },
    });
    expect(violations(app)).toEqual([]);
    const acknowledged = acknowledgments(stack);
    for (const rule of ["AwsSolutions-CFR1", "AwsSolutions-CFR3", "AwsSolutions-CFR4"]) {
      expect(
        acknowledged.get(rule)?.map((p) => p.where),
        rule,
      ).toEqual(["Edge/Distribution"]);
    }
    expect(acknowledged.get("AwsSolutions-SMG4")?.map((p) => p.where)).toContain(
      "EdgeOriginSecret",
    );
    for (const places of acknowledged.values()) {
      for (const { reason } of places) expect(reason.length).toBeGreaterThan(40);
    }
  });

  it("fails the synth of an app when a rule is broken and not acknowledged", () => {
    const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
    const stack = new Stack(app, "Broken");
    new Queue(stack, "PlainQueue"); // no DLQ, no TLS enforcement
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS3/);
  });
});
