import type { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { EVENT_SOURCE, INTEGRATION_EVENT_TYPES } from "../../lambdas/domain/integration-events.js";
import { FUNCTIONS } from "../../lambdas/registry.js";
import {
  awsApp,
  envOf,
  grantsOfRole,
  logicalIdOf,
  resourcesOf,
  roleOf,
  templateOf,
} from "./support/apps.js";

/**
 * The integration events in AWS (lib/constructs/integration-events.ts): the bus,
 * its archive (retention per stage profile), the example rule into a log group,
 * and PutEvents for exactly the consumer and the scheduled repair.
 */
const ISSUER = { jwtIssuer: "https://issuer.test/" };
let dev: Template;
let prod: Template;
beforeAll(() => {
  dev = templateOf(awsApp({ context: { stage: "test", ...ISSUER } }).stack);
  prod = templateOf(awsApp({ context: { stage: "prod", ...ISSUER } }).stack);
});

const OURS = { source: [EVENT_SOURCE], "detail-type": [...INTEGRATION_EVENT_TYPES] };
const busId = (t: Template) => logicalIdOf(t, "AWS::Events::EventBus", "IntegrationEventsBus");

describe("integration events", () => {
  it("one custom bus per stage, named flash-sale-<stage>, and its name as an output", () => {
    dev.resourceCountIs("AWS::Events::EventBus", 1);
    dev.hasResourceProperties("AWS::Events::EventBus", { Name: "flash-sale-test" });
    prod.hasResourceProperties("AWS::Events::EventBus", { Name: "flash-sale-prod" });
    dev.hasOutput("EventBusName", { Value: { Ref: busId(dev) } });
  });

  it("archives every event of ours: 7 days in dev, 90 in prod", () => {
    for (const [t, days] of [
      [dev, 7],
      [prod, 90],
    ] as const) {
      t.resourceCountIs("AWS::Events::Archive", 1);
      t.hasResourceProperties("AWS::Events::Archive", {
        SourceArn: { "Fn::GetAtt": [busId(t), "Arn"] },
        RetentionDays: days,
        EventPattern: OURS,
      });
    }
    expect(
      templateOf(
        awsApp({ context: { stage: "test", ...ISSUER, eventArchiveDays: 30 } }).stack,
      ).findResources("AWS::Events::Archive", { Properties: { RetentionDays: 30 } }),
    ).not.toEqual({});
  });

  it("routes them on that bus to a log group with a retention, allowed by a resource policy for that rule only", () => {
    const logGroup = logicalIdOf(dev, "AWS::Logs::LogGroup", "IntegrationEventsLogs");
    dev.hasResourceProperties("AWS::Logs::LogGroup", {
      LogGroupName: "/aws/events/flash-sale-test",
      RetentionInDays: 30,
    });
    const rules = Object.entries(resourcesOf(dev, "AWS::Events::Rule")).filter(
      ([, rule]) => rule.Properties.EventBusName !== undefined,
    );
    expect(rules).toHaveLength(1);
    const [ruleId, rule] = rules[0] as [string, (typeof rules)[number][1]];
    expect(rule.Properties.EventBusName).toEqual({ Ref: busId(dev) });
    expect(rule.Properties.EventPattern).toEqual(OURS);
    expect(rule.Properties.State).toBe("ENABLED");
    expect(JSON.stringify(rule.Properties.Targets)).toContain(`{"Ref":"${logGroup}"}`);
    const policies = Object.values(resourcesOf(dev, "AWS::Logs::ResourcePolicy"));
    expect(policies).toHaveLength(1);
    const policy = JSON.stringify(policies[0]?.Properties.PolicyDocument);
    for (const part of [
      String.raw`\"Action\":[\"logs:CreateLogStream\",\"logs:PutLogEvents\"]`,
      String.raw`\"Principal\":{\"Service\":\"events.amazonaws.com\"}`,
      String.raw`\"ArnEquals\":{\"aws:SourceArn\":\"`,
      JSON.stringify({ "Fn::GetAtt": [ruleId, "Arn"] }),
      JSON.stringify({ "Fn::GetAtt": [logGroup, "Arn"] }),
    ]) {
      expect(policy).toContain(part);
    }
    // No custom resource (and so no extra Lambda function) puts that policy in.
    expect(Object.keys(resourcesOf(dev, "Custom::CloudwatchLogResourcePolicy"))).toEqual([]);
  });

  it("grants events:PutEvents on the bus to the consumer and the repair only, with EVENT_BUS_NAME", () => {
    const putters: string[] = [];
    for (const fn of FUNCTIONS) {
      const grants = grantsOfRole(dev, roleOf(dev, fn.name)).filter((g) => g.startsWith("events:"));
      if (grants.length > 0) putters.push(fn.name);
      expect(grants).toEqual(fn.access.publishEvents ? [`events:PutEvents on ${busId(dev)}`] : []);
      expect(envOf(dev, fn.name).EVENT_BUS_NAME).toEqual(
        fn.access.publishEvents ? { Ref: busId(dev) } : undefined,
      );
    }
    expect(putters.sort()).toEqual(["consume-orders", "repair-orders"]);
  });
});
