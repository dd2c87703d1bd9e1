import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { HTTP_ROUTES } from "../../lambdas/routes.js";
import {
  actionsOfRole,
  awsApp,
  fixture,
  functionOf,
  resourcesOf,
  templateOf,
} from "./support/apps.js";

// One synth for the main template (about two seconds, bundling skipped), with stub
// entries for the consumer and the migration function so their wiring is covered.
let template: Template;
beforeAll(() => {
  const { stack } = awsApp({
    context: {
      stage: "test",
      jwtIssuer: "https://issuer.test/",
      jwtAudience: "flash-sale-api,flash-sale-admin",
      throttleRateLimit: "1234",
      throttleBurstLimit: "567",
    },
  });
  template = templateOf(stack);
});

type Statement = { Action: string | string[]; Resource: unknown };

const roleOf = (handler: string): string => {
  const [, fn] = functionOf(template, handler);
  const role = fn.Properties.Role as { "Fn::GetAtt": [string, string] };
  return role["Fn::GetAtt"][0];
};
const envOf = (handler: string): Record<string, unknown> =>
  (
    functionOf(template, handler)[1].Properties.Environment as {
      Variables: Record<string, unknown>;
    }
  ).Variables;

describe("Network", () => {
  it("has isolated subnets only: no NAT gateway, no internet gateway", () => {
    template.resourceCountIs("AWS::EC2::VPC", 1);
    template.resourceCountIs("AWS::EC2::NatGateway", 0);
    template.resourceCountIs("AWS::EC2::InternetGateway", 0);
    // Two subnet groups (app, data) in two AZs.
    template.resourceCountIs("AWS::EC2::Subnet", 4);
    template.allResourcesProperties("AWS::EC2::Subnet", { MapPublicIpOnLaunch: false });
  });

  it("reaches SQS and Secrets Manager through private interface endpoints", () => {
    template.resourceCountIs("AWS::EC2::VPCEndpoint", 2);
    for (const service of ["sqs", "secretsmanager"]) {
      template.hasResourceProperties("AWS::EC2::VPCEndpoint", {
        VpcEndpointType: "Interface",
        PrivateDnsEnabled: true,
        ServiceName: {
          "Fn::Join": ["", ["com.amazonaws.", { Ref: "AWS::Region" }, `.${service}`]],
        },
      });
    }
  });

  it("logs rejected traffic", () => {
    template.hasResourceProperties("AWS::EC2::FlowLog", {
      ResourceType: "VPC",
      TrafficType: "REJECT",
    });
  });
});

describe("Cache", () => {
  it("is a Valkey replication group with TLS, encryption at rest, AUTH and multi-AZ failover", () => {
    template.resourceCountIs("AWS::ElastiCache::ReplicationGroup", 1);
    template.hasResourceProperties("AWS::ElastiCache::ReplicationGroup", {
      Engine: "valkey",
      ClusterMode: "disabled",
      NumNodeGroups: 1,
      ReplicasPerNodeGroup: 1,
      AutomaticFailoverEnabled: true,
      MultiAZEnabled: true,
      TransitEncryptionEnabled: true,
      TransitEncryptionMode: "required",
      AtRestEncryptionEnabled: true,
      AuthToken: {
        "Fn::Join": [
          "",
          [
            "{{resolve:secretsmanager:",
            { Ref: Match.stringLikeRegexp("^CacheAuthToken") },
            ":SecretString:::}}",
          ],
        ],
      },
      CacheSubnetGroupName: { Ref: Match.stringLikeRegexp("^CacheSubnetGroup") },
    });
  });

  it("generates the AUTH token as a plain 64-character alphanumeric secret", () => {
    template.hasResourceProperties("AWS::SecretsManager::Secret", {
      GenerateSecretString: Match.objectEquals({
        ExcludePunctuation: true,
        IncludeSpace: false,
        PasswordLength: 64,
      }),
    });
  });
});

describe("Database", () => {
  it("is Aurora PostgreSQL Serverless v2, encrypted, with generated credentials", () => {
    template.hasResourceProperties("AWS::RDS::DBCluster", {
      Engine: "aurora-postgresql",
      EngineVersion: Match.stringLikeRegexp("^16\\."),
      DatabaseName: "flashsale",
      StorageEncrypted: true,
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 },
      MasterUserPassword: Match.objectLike({
        "Fn::Join": Match.arrayWith([Match.arrayWith(["{{resolve:secretsmanager:"])]),
      }),
      EnableCloudwatchLogsExports: ["postgresql"],
    });
    template.hasResourceProperties("AWS::RDS::DBInstance", {
      DBInstanceClass: "db.serverless",
      PubliclyAccessible: false,
    });
  });

  it("is reached through an RDS Proxy that requires TLS and uses the cluster secret", () => {
    template.hasResourceProperties("AWS::RDS::DBProxy", {
      EngineFamily: "POSTGRESQL",
      RequireTLS: true,
      Auth: [Match.objectLike({ AuthScheme: "SECRETS", SecretArn: Match.anyValue() })],
    });
  });
});

describe("Orders queue", () => {
  it("moves a message to the encrypted DLQ after maxReceiveCount receives", () => {
    template.resourceCountIs("AWS::SQS::Queue", 2);
    template.hasResourceProperties("AWS::SQS::Queue", {
      SqsManagedSseEnabled: true,
      RedrivePolicy: {
        deadLetterTargetArn: {
          "Fn::GetAtt": [Match.stringLikeRegexp("^OrdersDeadLetterQueue"), "Arn"],
        },
        maxReceiveCount: 5,
      },
    });
    template.hasResourceProperties("AWS::SQS::Queue", {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
  });

  it("keeps messages invisible at least six times the consumer timeout", () => {
    const [, consumer] = functionOf(template, "consume-orders");
    const timeout = consumer.Properties.Timeout as number;
    const queue = Object.values(resourcesOf(template, "AWS::SQS::Queue")).find(
      (q) => q.Properties.RedrivePolicy,
    );
    expect(queue?.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeout);
  });

  it("refuses requests that are not TLS", () => {
    template.resourceCountIs("AWS::SQS::QueuePolicy", 2);
    template.hasResourceProperties("AWS::SQS::QueuePolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Deny",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
        ]),
      },
    });
  });
});

describe("HTTP API", () => {
  it("has one route per entry of lambdas/routes.ts", () => {
    template.resourceCountIs("AWS::ApiGatewayV2::Route", HTTP_ROUTES.length);
    for (const route of HTTP_ROUTES) {
      template.hasResourceProperties("AWS::ApiGatewayV2::Route", {
        RouteKey: route.routeKey,
        AuthorizationType: route.authorization === "jwt" ? "JWT" : "NONE",
        AuthorizationScopes: route.scopes.length > 0 ? route.scopes : Match.absent(),
      });
    }
  });

  it("verifies JWTs with the issuer and audiences from context", () => {
    template.hasResourceProperties("AWS::ApiGatewayV2::Authorizer", {
      AuthorizerType: "JWT",
      IdentitySource: ["$request.header.Authorization"],
      JwtConfiguration: {
        Issuer: "https://issuer.test/",
        Audience: ["flash-sale-api", "flash-sale-admin"],
      },
    });
  });

  it("throttles the default stage from context and writes JSON access logs", () => {
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      StageName: "$default",
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 1234, ThrottlingBurstLimit: 567 },
      AccessLogSettings: {
        DestinationArn: { "Fn::GetAtt": [Match.stringLikeRegexp("^HttpApiAccessLogs"), "Arn"] },
        Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"'),
      },
    });
  });

  it("integrates each route with its handler's function (payload 2.0)", () => {
    for (const route of HTTP_ROUTES) {
      const [fnId] = functionOf(template, route.handler);
      template.hasResourceProperties("AWS::ApiGatewayV2::Integration", {
        IntegrationType: "AWS_PROXY",
        PayloadFormatVersion: "2.0",
        IntegrationUri: { "Fn::GetAtt": [fnId, "Arn"] },
      });
    }
  });
});

describe("Functions", () => {
  const handlers = [...new Set(HTTP_ROUTES.map((r) => r.handler)), "consume-orders", "migrate"];

  it("deploys one Node 22 arm64 function per handler, traced, in the VPC, with its log group", () => {
    for (const handler of handlers) {
      const [, fn] = functionOf(template, handler);
      expect(fn.Properties).toMatchObject({
        Runtime: "nodejs22.x",
        Architectures: ["arm64"],
        Handler: "index.handler",
        TracingConfig: { Mode: "Active" },
        LoggingConfig: { LogGroup: { Ref: expect.stringMatching(/Logs/) } },
        VpcConfig: { SubnetIds: expect.any(Array), SecurityGroupIds: expect.any(Array) },
      });
      expect(envOf(handler)).toMatchObject({
        POWERTOOLS_SERVICE_NAME: "flash-sale",
        POWERTOOLS_LOG_LEVEL: "INFO",
        NODE_OPTIONS: "--enable-source-maps",
      });
    }
    template.hasResourceProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
  });

  it("gives Redis users a TLS URL and the AUTH secret's ARN", () => {
    for (const handler of [...new Set(HTTP_ROUTES.map((r) => r.handler)), "consume-orders"]) {
      expect(envOf(handler)).toMatchObject({
        REDIS_URL: {
          "Fn::Join": [
            "",
            [
              "rediss://",
              {
                "Fn::GetAtt": [
                  expect.stringMatching(/^CacheReplicationGroup/),
                  "PrimaryEndPoint.Address",
                ],
              },
              ":",
              {
                "Fn::GetAtt": [
                  expect.stringMatching(/^CacheReplicationGroup/),
                  "PrimaryEndPoint.Port",
                ],
              },
            ],
          ],
        },
        REDIS_AUTH_SECRET_ARN: { Ref: expect.stringMatching(/^CacheAuthToken/) },
      });
    }
    expect(envOf("migrate").REDIS_URL).toBeUndefined();
  });

  it("gives database users the proxy endpoint and the cluster secret, with TLS", () => {
    for (const handler of ["consume-orders", "migrate"]) {
      expect(envOf(handler)).toMatchObject({
        DATABASE_HOST: {
          "Fn::GetAtt": [expect.stringMatching(/^DatabaseClusterProxy/), "Endpoint"],
        },
        DATABASE_PORT: "5432",
        DATABASE_NAME: "flashsale",
        DATABASE_SECRET_ARN: { Ref: expect.stringMatching(/^DatabaseClusterSecretAttachment/) },
        DATABASE_SSL: "true",
      });
    }
    for (const handler of ["buy", "get-sale", "upsert-sale"]) {
      expect(envOf(handler).DATABASE_HOST).toBeUndefined();
    }
  });

  it("gives only the buy function the orders queue URL", () => {
    expect(envOf("buy").ORDERS_QUEUE_URL).toEqual({ Ref: expect.stringMatching(/^OrdersQueue/) });
    expect(envOf("get-sale").ORDERS_QUEUE_URL).toBeUndefined();
  });

  it("lets the buy function send to the queue and nothing else on it", () => {
    const actions = actionsOfRole(template, roleOf("buy"));
    expect(actions).toContain("sqs:SendMessage");
    expect(actions.filter((a) => a.startsWith("sqs:"))).toEqual(["sqs:SendMessage"]);
    expect(actions).not.toContain("sqs:ReceiveMessage");
    expect(actions.some((a) => a.startsWith("rds") || a === "*")).toBe(false);
  });

  it("grants secret reads only to the functions that need each secret", () => {
    const buy = actionsOfRole(template, roleOf("buy"));
    expect(buy).toEqual(
      expect.arrayContaining(["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]),
    );
    // Function roles allowed to read each secret (the RDS Proxy's own role also reads the database secret).
    const secretReaders = (secretPrefix: RegExp) =>
      Object.values(resourcesOf(template, "AWS::IAM::Policy"))
        .filter((policy) =>
          (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement.some(
            (statement) =>
              [statement.Action].flat().includes("secretsmanager:GetSecretValue") &&
              [statement.Resource]
                .flat()
                .some((resource) => secretPrefix.test(String((resource as { Ref?: string }).Ref))),
          ),
        )
        .flatMap((policy) => (policy.Properties.Roles as { Ref: string }[]).map((r) => r.Ref))
        .filter((role) => role.startsWith("Functions"))
        .sort();
    expect(secretReaders(/CacheAuthToken/)).toEqual(
      ["buy", "consume-orders", "get-sale", "upsert-sale"].map(roleOf).sort(),
    );
    expect(secretReaders(/DatabaseClusterSecretAttachment/)).toEqual(
      ["consume-orders", "migrate"].map(roleOf).sort(),
    );
  });

  it("opens the cache and the proxy only to the functions that use them", () => {
    const ingress = Object.values(resourcesOf(template, "AWS::EC2::SecurityGroupIngress"));
    const into = (target: RegExp) =>
      ingress
        .filter((rule) =>
          target.test(JSON.stringify((rule.Properties.GroupId as Record<string, unknown>) ?? {})),
        )
        .map((rule) => JSON.stringify(rule.Properties.SourceSecurityGroupId))
        .sort();
    expect(into(/CacheSecurityGroup/)).toHaveLength(4);
    expect(into(/DatabaseProxySecurityGroup/)).toHaveLength(2);
    template.hasResourceProperties("AWS::EC2::SecurityGroupIngress", {
      IpProtocol: "tcp",
      FromPort: 6379,
      ToPort: 6379,
      GroupId: { "Fn::GetAtt": [Match.stringLikeRegexp("^CacheSecurityGroup"), "GroupId"] },
    });
    template.hasResourceProperties("AWS::EC2::SecurityGroupIngress", {
      FromPort: 5432,
      GroupId: { "Fn::GetAtt": [Match.stringLikeRegexp("^DatabaseProxySecurityGroup"), "GroupId"] },
    });
  });

  it("feeds the consumer from the queue with partial batch failures and bounded concurrency", () => {
    const [consumerId] = functionOf(template, "consume-orders");
    template.resourceCountIs("AWS::Lambda::EventSourceMapping", 1);
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: consumerId },
      EventSourceArn: { "Fn::GetAtt": [Match.stringLikeRegexp("^OrdersQueue"), "Arn"] },
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 1,
      ScalingConfig: { MaximumConcurrency: 5 },
    });
  });
});

describe("Migrations", () => {
  it("run through a custom resource whose provider invokes the migration function", () => {
    const [migrateId] = functionOf(template, "migrate");
    template.hasResourceProperties("AWS::Lambda::Function", {
      Handler: "framework.onEvent",
      Environment: {
        Variables: { USER_ON_EVENT_FUNCTION_ARN: { "Fn::GetAtt": [migrateId, "Arn"] } },
      },
    });
    template.hasResource("Custom::FlashSaleMigrations", {
      Properties: {
        ServiceToken: {
          "Fn::GetAtt": [Match.stringLikeRegexp("^MigrationsProviderframeworkonEvent"), "Arn"],
        },
        migrationsDigest: Match.stringLikeRegexp("^[0-9a-f]{16}$"),
        databaseEndpoint: {
          "Fn::GetAtt": [Match.stringLikeRegexp("^DatabaseClusterProxy"), "Endpoint"],
        },
      },
      // After the writer instance and the proxy target exist.
      DependsOn: Match.arrayWith([
        Match.stringLikeRegexp("^DatabaseClusterProxyProxyTargetGroup"),
        Match.stringLikeRegexp("^DatabaseClusterWriter"),
      ]),
    });
  });
});

describe("Alarms, dashboard and outputs", () => {
  it("alarms on the DLQ, the oldest message, the 5xx rate and every function's errors and throttles", () => {
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "ApproximateNumberOfMessagesVisible",
      Namespace: "AWS/SQS",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      Dimensions: [
        {
          Name: "QueueName",
          Value: { "Fn::GetAtt": [Match.stringLikeRegexp("^OrdersDeadLetterQueue"), "QueueName"] },
        },
      ],
    });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "ApproximateAgeOfOldestMessage",
      Threshold: 300,
    });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: "IF(requests > 0, 100 * errors / requests, 0)" }),
      ]),
      Threshold: 1,
    });
    const functionAlarms = Object.values(resourcesOf(template, "AWS::CloudWatch::Alarm")).filter(
      (alarm) => alarm.Properties.Namespace === "AWS/Lambda",
    );
    const handlerCount = new Set([
      ...HTTP_ROUTES.map((r) => r.handler),
      "consume-orders",
      "migrate",
    ]).size;
    expect(functionAlarms.map((a) => a.Properties.MetricName).sort()).toEqual(
      [...Array(handlerCount).fill("Errors"), ...Array(handlerCount).fill("Throttles")].sort(),
    );
    template.allResourcesProperties("AWS::CloudWatch::Alarm", {
      AlarmActions: [{ Ref: Match.stringLikeRegexp("^MonitoringAlarmTopic") }],
    });
    template.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
  });

  it("outputs the API URL and the queue URLs", () => {
    template.hasOutput("ApiUrl", {
      Value: Match.objectLike({ "Fn::Join": Match.arrayWith([Match.arrayWith(["https://"])]) }),
    });
    template.hasOutput("OrdersQueueUrl", {
      Value: { Ref: Match.stringLikeRegexp("^OrdersQueue") },
    });
    template.hasOutput("OrdersDeadLetterQueueUrl", {
      Value: { Ref: Match.stringLikeRegexp("^OrdersDeadLetterQueue") },
    });
  });
});

describe("Routes added to lambdas/routes.ts later", () => {
  const stub = fixture("http-handler");
  const routes = [
    ...HTTP_ROUTES,
    { routeKey: "GET /orders/{orderId}", handler: "get-order", authorization: "jwt", scopes: [] },
    {
      routeKey: "GET /admin/sales/{saleId}/stats",
      handler: "sale-stats",
      authorization: "jwt",
      scopes: ["admin"],
    },
  ] as const;
  let later: Template;
  beforeAll(() => {
    const { stack } = awsApp({
      context: { jwtIssuer: "https://issuer.test/" },
      routes,
      entries: { "get-order": stub, "sale-stats": stub },
    });
    later = templateOf(stack);
  });

  it("get a function and a route each, with their scopes", () => {
    later.resourceCountIs("AWS::ApiGatewayV2::Route", routes.length);
    later.hasResourceProperties("AWS::ApiGatewayV2::Route", {
      RouteKey: "GET /admin/sales/{saleId}/stats",
      AuthorizationType: "JWT",
      AuthorizationScopes: ["admin"],
    });
    const env = (handler: string) =>
      (
        functionOf(later, handler)[1].Properties.Environment as {
          Variables: Record<string, unknown>;
        }
      ).Variables;
    expect(env("get-order")).toMatchObject({ DATABASE_SECRET_ARN: expect.anything() });
    expect(env("sale-stats")).toMatchObject({
      DATABASE_HOST: expect.anything(),
      ORDERS_QUEUE_URL: expect.anything(),
      ORDERS_DLQ_URL: expect.anything(),
    });
  });

  it("let an admin handler read queue attributes only", () => {
    const [, stats] = functionOf(later, "sale-stats");
    const role = (stats.Properties.Role as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
    const sqsActions = actionsOfRole(later, role).filter((a) => a.startsWith("sqs:"));
    expect([...new Set(sqsActions)]).toEqual(["sqs:GetQueueAttributes"]);
  });
});
