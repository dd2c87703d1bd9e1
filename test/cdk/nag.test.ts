import { App, Stack, Validations } from "aws-cdk-lib";
import { Queue } from "aws-cdk-lib/aws-sqs";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { describe, expect, it } from "vitest";
import { awsApp } from "./support/apps.js";

/** Every acknowledgment recorded in the tree: rule id -> reasons. */
function acknowledgments(root: IConstruct): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const construct of root.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        const rule = id.replace(/^Annotation::/, "");
        if (!rule.startsWith("AwsSolutions-")) continue; // CDK's own acknowledgments
        found.set(rule, [...(found.get(rule) ?? []), reason]);
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
    const { app } = awsApp({
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
    expect(acknowledgments(app).has("AwsSolutions-RDS10")).toBe(false);
  });

  it("acknowledges only this reviewed list of rules, each with a reason", () => {
    const acknowledged = acknowledgments(awsApp().app);
    expect([...acknowledged.keys()].sort()).toEqual(
      [
        "AwsSolutions-AEC5",
        "AwsSolutions-APIG4",
        "AwsSolutions-EC23",
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AWSXRayDaemonWriteAccess]",
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]",
        "AwsSolutions-IAM5[Resource::<Functionsmigrate1DF4BEC8.Arn>:*]",
        "AwsSolutions-L1",
        "AwsSolutions-RDS10",
        "AwsSolutions-RDS11",
        "AwsSolutions-SMG4",
        "AwsSolutions-SNS2",
        "AwsSolutions-SQS3",
      ].sort(),
    );
    for (const reasons of acknowledged.values()) {
      for (const reason of reasons) expect(reason.length).toBeGreaterThan(40);
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
