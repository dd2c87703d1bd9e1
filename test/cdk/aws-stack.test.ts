import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { METRIC_NAMES } from "../../lambdas/platform/metrics-names.js";
import {
  EXPIRE_HOLDS_HANDLER,
  HTTP_ROUTES,
  type HttpRouteDefinition,
  REPAIR_ORDERS_HANDLER,
  RUN_DRAWS_HANDLER,
  RUN_DRAWS_MEMORY_MB,
} from "../../lambdas/registry.js";
import { LAMBDA_NODE_MAJOR } from "../../lib/bundling.js";
import { CONSUMER_HANDLER, handlerCatalog, MIGRATE_HANDLER } from "../../lib/handlers.js";
import { PROJECT_ROOT } from "../../lib/paths.js";
import {
  awsApp,
  envOf,
  fixture,
  functionOf,
  grantsOfRole,
  logicalIdOf,
  resourcesOf,
  roleOf,
  securityGroupOf,
  templateOf,
} from "./support/apps.js";

// One synth of the real stack (bundling skipped): every handler of lambdas/registry.ts,
// the order consumer and the migration function, with their real entry files.
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

/** Every function the stack must deploy: one per handler of lambdas/registry.ts, plus these three. */
const HTTP_HANDLERS = [...new Set(HTTP_ROUTES.map((route) => route.handler))];
const ALL_HANDLERS = [
  ...HTTP_HANDLERS,
  EXPIRE_HOLDS_HANDLER,
  REPAIR_ORDERS_HANDLER,
  RUN_DRAWS_HANDLER,
  CONSUMER_HANDLER,
  MIGRATE_HANDLER,
];

describe("Network", () => {
  it("has isolated subnets only: no NAT gateway, no internet gateway", () => {
    template.resourceCountIs("AWS::EC2::VPC", 1);
    template.resourceCountIs("AWS::EC2::NatGateway", 0);
    template.resourceCountIs("AWS::EC2::InternetGateway", 0);
    // Two subnet groups (app, data) in two AZs.
    template.resourceCountIs("AWS::EC2::Subnet", 4);
    template.allResourcesProperties("AWS::EC2::Subnet", { MapPublicIpOnLaunch: false });
  });

  it("reaches SQS, Secrets Manager and EventBridge through private interface endpoints", () => {
    template.resourceCountIs("AWS::EC2::VPCEndpoint", 3);
    for (const service of ["sqs", "secretsmanager", "events"]) {
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

  it("runs in cluster mode with -c cacheShards=N: configuration endpoint and REDIS_CLUSTER for the functions", () => {
    const { stack } = awsApp({
      context: {
        stage: "test",
        jwtIssuer: "https://issuer.test/",
        jwtAudience: "flash-sale-api",
        cacheShards: "3",
        cacheClusterMode: "true",
      },
    });
    const clustered = templateOf(stack);
    clustered.hasResourceProperties("AWS::ElastiCache::ReplicationGroup", {
      ClusterMode: "enabled",
      NumNodeGroups: 3,
      ReplicasPerNodeGroup: 1,
      AutomaticFailoverEnabled: true,
    });
    const [, buy] = functionOf(clustered, "buy");
    const variables = (buy.Properties as { Environment: { Variables: Record<string, unknown> } })
      .Environment.Variables;
    expect(variables.REDIS_CLUSTER).toBe("true");
    expect(JSON.stringify(variables.REDIS_URL)).toContain("ConfigurationEndPoint.Address");
    // The default stays one node group without cluster mode.
    expect(JSON.stringify(functionOf(template, "buy")[1])).not.toContain("REDIS_CLUSTER");
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
    const [, consumer] = functionOf(template, CONSUMER_HANDLER);
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
  it("has one route per entry of lambdas/registry.ts", () => {
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

/**
 * What each function may reach, reviewed against what its handler does
 * (lambdas/handlers/*.ts). Handlers not listed here get lib/handlers.ts's
 * default rule (see needsOf), which the "routes added later" tests pin.
 */
interface Needs {
  /** REDIS_URL (rediss://) + REDIS_AUTH_SECRET_ARN, read on the AUTH token, a path to the cache. */
  redis: boolean;
  /** DATABASE_* (the proxy, TLS), read on the cluster secret, a path to the RDS Proxy. */
  database: boolean;
  /** SQS actions on the orders queue and on its DLQ. */
  ordersQueue: string[];
  deadLetterQueue: string[];
  /** The queue URLs it is given. */
  queueUrls: string[];
  /** PAYMENT_WEBHOOK_SECRET_ARN, read on the payment provider's webhook secret. */
  webhookSecret?: boolean;
  /** EVENT_BUS_NAME, events:PutEvents on the integration events' bus. */
  publishEvents?: boolean;
}

const NOTHING: Needs = {
  redis: false,
  database: false,
  ordersQueue: [],
  deadLetterQueue: [],
  queueUrls: [],
};
const QUEUE_DEPTHS: Pick<Needs, "ordersQueue" | "deadLetterQueue" | "queueUrls"> = {
  ordersQueue: ["sqs:GetQueueAttributes"],
  deadLetterQueue: ["sqs:GetQueueAttributes"],
  queueUrls: ["ORDERS_DLQ_URL", "ORDERS_QUEUE_URL"],
};
/** What CDK's SqsEventSource grants the consumer's role on the queue it polls. */
const CONSUME = [
  "sqs:ChangeMessageVisibility",
  "sqs:DeleteMessage",
  "sqs:GetQueueAttributes",
  "sqs:GetQueueUrl",
  "sqs:ReceiveMessage",
];

const REVIEWED: Record<string, Needs> = {
  // Reserves in Redis (Lua) and hands the order to SQS.
  buy: {
    ...NOTHING,
    redis: true,
    ordersQueue: ["sqs:SendMessage"],
    queueUrls: ["ORDERS_QUEUE_URL"],
  },
  // One HGETALL.
  "get-sale": { ...NOTHING, redis: true },
  // Admin, but it only writes the sale's Redis hash.
  "upsert-sale": { ...NOTHING, redis: true },
  // A pending order is in Redis, a persisted one in Postgres.
  "get-order": { ...NOTHING, redis: true, database: true },
  // Compares Redis, Postgres and both queues' depths; repairs through Redis and Postgres.
  "admin-reconcile": { ...NOTHING, redis: true, database: true, ...QUEUE_DEPTHS },
  // Moves DLQ messages back: receive and delete there, send to the orders queue. Nothing else.
  "admin-redrive": {
    ...NOTHING,
    ordersQueue: ["sqs:SendMessage"],
    deadLetterQueue: ["sqs:DeleteMessage", "sqs:ReceiveMessage"],
    queueUrls: ["ORDERS_DLQ_URL", "ORDERS_QUEUE_URL"],
  },
  // The recent-sales list and the sales' hashes: Redis only.
  "admin-sales": { ...NOTHING, redis: true },
  // The dashboard page: static files inlined in its bundle, no data at all.
  dashboard: NOTHING,
  // The OpenAPI document, built at cold start from code in its bundle: no data at all.
  openapi: NOTHING,
  // Fed by the event source; confirms in Redis, inserts into Postgres.
  // OrderConfirmed for each new row.
  "consume-orders": {
    ...NOTHING,
    redis: true,
    database: true,
    ordersQueue: CONSUME,
    publishEvents: true,
  },
  migrate: { ...NOTHING, database: true },
  // The pay script in Redis and the provider's signing secret; no database, no queue.
  "payment-webhook": { ...NOTHING, redis: true, webhookSecret: true },
  // Pause/resume: a flag in the sale's hash(es); no database, no queue.
  "admin-sale-controls": { ...NOTHING, redis: true },
  // Reconcile's sources and repairs: Redis, the rows, the queue depths (no send: it writes rows itself).
  // And the sale events (OrderConfirmed for the rows it writes).
  "repair-orders": {
    ...NOTHING,
    redis: true,
    database: true,
    ...QUEUE_DEPTHS,
    publishEvents: true,
  },
  // Draws: an entry is a buy's twin (the enter script, one send).
  "enter-draw": {
    ...NOTHING,
    redis: true,
    ordersQueue: ["sqs:SendMessage"],
    queueUrls: ["ORDERS_QUEUE_URL"],
  },
  "my-entry": { ...NOTHING, redis: true },
  // Public: the state in Redis, the record (seed, list, winners) in Postgres.
  "get-draw": { ...NOTHING, redis: true, database: true },
  // Admin, but it only freezes the entries in the sale's hash.
  "admin-draw": { ...NOTHING, redis: true },
  // Entries and the drawn order in Redis, the rows and the record in Postgres, awards to the queue.
  "run-draws": {
    ...NOTHING,
    redis: true,
    database: true,
    ordersQueue: ["sqs:SendMessage"],
    queueUrls: ["ORDERS_QUEUE_URL"],
  },
  // The expiry script and the outboxes in Redis; history events to the orders queue.
  "expire-holds": {
    ...NOTHING,
    redis: true,
    ordersQueue: ["sqs:SendMessage"],
    queueUrls: ["ORDERS_QUEUE_URL"],
  },
};

/** A handler nobody listed: Redis; behind the admin scope also the database and queue depths. */
function needsOf(handler: string, routes: readonly HttpRouteDefinition[] = HTTP_ROUTES): Needs {
  const reviewed = REVIEWED[handler];
  if (reviewed) return reviewed;
  const admin = routes.some((r) => r.handler === handler && r.scopes.includes("admin"));
  return admin
    ? { ...NOTHING, redis: true, database: true, ...QUEUE_DEPTHS }
    : { ...NOTHING, redis: true };
}

/** Logical ids of what the functions are granted or given a path to. */
function backends(t: Template) {
  return {
    ordersQueue: logicalIdOf(t, "AWS::SQS::Queue", "OrdersQueue"),
    deadLetterQueue: logicalIdOf(t, "AWS::SQS::Queue", "OrdersDeadLetterQueue"),
    cacheSecret: logicalIdOf(t, "AWS::SecretsManager::Secret", "CacheAuthToken"),
    databaseSecret: logicalIdOf(
      t,
      "AWS::SecretsManager::SecretTargetAttachment",
      "DatabaseClusterSecretAttachment",
    ),
    cacheGroup: logicalIdOf(t, "AWS::EC2::SecurityGroup", "CacheSecurityGroup"),
    proxyGroup: logicalIdOf(t, "AWS::EC2::SecurityGroup", "DatabaseProxySecurityGroup"),
    vpc: logicalIdOf(t, "AWS::EC2::VPC", "NetworkVpc"),
  };
}

/** The IAM grants (grantsOfRole's form) a function with these needs must have, and no others. */
function expectedGrants(t: Template, needs: Needs): string[] {
  const ids = backends(t);
  const secretRead = (secret: string) =>
    ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"].map(
      (a) => `${a} on ${secret}`,
    );
  return [
    ...(needs.redis ? secretRead(ids.cacheSecret) : []),
    ...(needs.database ? secretRead(ids.databaseSecret) : []),
    ...needs.ordersQueue.map((a) => `${a} on ${ids.ordersQueue}`),
    ...needs.deadLetterQueue.map((a) => `${a} on ${ids.deadLetterQueue}`),
    ...(needs.webhookSecret
      ? secretRead(logicalIdOf(t, "AWS::SecretsManager::Secret", "PaymentWebhookSecret"))
      : []),
    ...(needs.publishEvents
      ? [`events:PutEvents on ${logicalIdOf(t, "AWS::Events::EventBus", "IntegrationEventsBus")}`]
      : []),
  ].sort();
}

const getAtt = (id: string, attribute: string) => ({ "Fn::GetAtt": [id, attribute] });

/** Security-group rules between a function's group and another group, as "port" strings. */
function rulesBetween(t: Template, type: string, from: string, to: string): number[] {
  const [own, other] =
    type === "AWS::EC2::SecurityGroupIngress"
      ? ["SourceSecurityGroupId", "GroupId"]
      : ["GroupId", "DestinationSecurityGroupId"];
  return Object.values(resourcesOf(t, type))
    .filter(
      (rule) =>
        JSON.stringify(rule.Properties[own]) === JSON.stringify(getAtt(from, "GroupId")) &&
        JSON.stringify(rule.Properties[other]) === JSON.stringify(getAtt(to, "GroupId")),
    )
    .map((rule) => rule.Properties.FromPort as number);
}

describe("Functions", () => {
  it("are one per handler of lambdas/registry.ts, plus the consumer and the migration function", () => {
    const deployed = Object.keys(resourcesOf(template, "AWS::Lambda::Function")).filter((id) =>
      id.startsWith("Functions"),
    );
    expect(deployed).toHaveLength(ALL_HANDLERS.length);
    expect(
      handlerCatalog({ projectRoot: PROJECT_ROOT })
        .map((spec) => spec.name)
        .sort(),
    ).toEqual([...ALL_HANDLERS].sort());
    for (const handler of ALL_HANDLERS) functionOf(template, handler);
  });

  it("run Node 24 (nodejs24.x, the current LTS) on arm64, traced, in the VPC, each with its log group", () => {
    for (const handler of ALL_HANDLERS) {
      const [, fn] = functionOf(template, handler);
      expect(fn.Properties, handler).toMatchObject({
        Runtime: `nodejs${LAMBDA_NODE_MAJOR}.x`,
        Architectures: ["arm64"],
        Handler: "index.handler",
        TracingConfig: { Mode: "Active" },
        LoggingConfig: { LogGroup: { Ref: expect.stringMatching(/Logs/) } },
        VpcConfig: { SubnetIds: expect.any(Array), SecurityGroupIds: expect.any(Array) },
      });
      expect(envOf(template, handler), handler).toMatchObject({
        POWERTOOLS_SERVICE_NAME: "flash-sale",
        POWERTOOLS_LOG_LEVEL: "INFO",
        NODE_OPTIONS: "--enable-source-maps",
        // Calls at a cold start have no segment to join: not an error (lambdas/platform/tracing.ts).
        AWS_XRAY_CONTEXT_MISSING: "IGNORE_ERROR",
      });
      expect(envOf(template, handler), handler).not.toHaveProperty("POWERTOOLS_TRACE_ENABLED");
    }
    template.hasResourceProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
  });

  describe.each(ALL_HANDLERS)("%s", (handler) => {
    const needs = needsOf(handler);

    it(`is given ${needs.redis ? "a TLS Redis URL and the AUTH secret's ARN" : "no Redis"}`, () => {
      const env = envOf(template, handler);
      if (!needs.redis) {
        expect(env.REDIS_URL).toBeUndefined();
        expect(env.REDIS_AUTH_SECRET_ARN).toBeUndefined();
        return;
      }
      const cacheGroup = expect.stringMatching(/^CacheReplicationGroup/);
      expect(env.REDIS_URL).toEqual({
        "Fn::Join": [
          "",
          [
            "rediss://",
            { "Fn::GetAtt": [cacheGroup, "PrimaryEndPoint.Address"] },
            ":",
            { "Fn::GetAtt": [cacheGroup, "PrimaryEndPoint.Port"] },
          ],
        ],
      });
      expect(env.REDIS_AUTH_SECRET_ARN).toEqual({ Ref: backends(template).cacheSecret });
      expect(env.REDIS_PASSWORD).toBeUndefined();
    });

    it(`is given ${needs.database ? "the proxy endpoint and the cluster secret, with TLS" : "no database"}`, () => {
      const env = envOf(template, handler);
      const databaseKeys = Object.keys(env).filter((key) => key.startsWith("DATABASE_"));
      if (!needs.database) {
        expect(databaseKeys).toEqual([]);
        return;
      }
      expect(Object.fromEntries(databaseKeys.map((key) => [key, env[key]]))).toEqual({
        DATABASE_HOST: getAtt(
          logicalIdOf(template, "AWS::RDS::DBProxy", "DatabaseClusterProxy"),
          "Endpoint",
        ),
        DATABASE_PORT: "5432",
        DATABASE_NAME: "flashsale",
        DATABASE_SECRET_ARN: { Ref: backends(template).databaseSecret },
        DATABASE_SSL: "true",
        // Below the proxy's borrow timeout (test/cdk/prod-profile.test.ts checks the order).
        DATABASE_STATEMENT_TIMEOUT_MS: handler === MIGRATE_HANDLER ? "240000" : "3000",
      });
    });

    it(`is given ${needs.queueUrls.join(" and ") || "no queue URL"}`, () => {
      const env = envOf(template, handler);
      const ids = backends(template);
      const queueKeys = Object.keys(env).filter((key) => key.startsWith("ORDERS_"));
      expect(queueKeys.sort()).toEqual(needs.queueUrls);
      if (env.ORDERS_QUEUE_URL) expect(env.ORDERS_QUEUE_URL).toEqual({ Ref: ids.ordersQueue });
      if (env.ORDERS_DLQ_URL) expect(env.ORDERS_DLQ_URL).toEqual({ Ref: ids.deadLetterQueue });
      // The consumer counts a record failing its last receive as dead-lettered (OrdersDeadLettered).
      expect(env.QUEUE_MAX_RECEIVE_COUNT).toBe(handler === "consume-orders" ? "5" : undefined);
    });

    it(`is given ${needs.publishEvents ? "the integration events' bus" : "no event bus"}`, () => {
      const env = envOf(template, handler);
      if (!needs.publishEvents) expect(env.EVENT_BUS_NAME).toBeUndefined();
      else
        expect(env.EVENT_BUS_NAME).toEqual({
          Ref: logicalIdOf(template, "AWS::Events::EventBus", "IntegrationEventsBus"),
        });
    });

    it("is granted exactly what its handler uses, on named resources only", () => {
      expect(grantsOfRole(template, roleOf(template, handler))).toEqual(
        expectedGrants(template, needs),
      );
    });

    it("reaches the cache, the proxy and the VPC endpoints only if it needs them", () => {
      const ids = backends(template);
      const group = securityGroupOf(template, handler);
      const ingress = "AWS::EC2::SecurityGroupIngress";
      const egress = "AWS::EC2::SecurityGroupEgress";
      expect(rulesBetween(template, ingress, group, ids.cacheGroup)).toEqual(
        needs.redis ? [6379] : [],
      );
      expect(rulesBetween(template, egress, group, ids.cacheGroup)).toEqual(
        needs.redis ? [6379] : [],
      );
      expect(rulesBetween(template, ingress, group, ids.proxyGroup)).toEqual(
        needs.database ? [5432] : [],
      );
      expect(rulesBetween(template, egress, group, ids.proxyGroup)).toEqual(
        needs.database ? [5432] : [],
      );
      // Every function that calls Secrets Manager or SQS: HTTPS to the VPC's interface endpoints,
      // nothing else; one that calls nothing (the dashboard page, the OpenAPI document) gets no
      // way out at all.
      const inline = resourcesOf(template, "AWS::EC2::SecurityGroup")[group]?.Properties
        .SecurityGroupEgress as unknown[] | undefined;
      if (handler === "dashboard" || handler === "openapi") {
        expect(inline ?? []).not.toContainEqual(expect.objectContaining({ FromPort: 443 }));
        return;
      }
      expect(inline).toEqual([
        expect.objectContaining({
          CidrIp: getAtt(ids.vpc, "CidrBlock"),
          IpProtocol: "tcp",
          FromPort: 443,
          ToPort: 443,
        }),
      ]);
    });
  });

  it("opens the cache and the proxy to no one else", () => {
    const ids = backends(template);
    const sources = (target: string) =>
      Object.values(resourcesOf(template, "AWS::EC2::SecurityGroupIngress"))
        .filter(
          (rule) =>
            JSON.stringify(rule.Properties.GroupId) === JSON.stringify(getAtt(target, "GroupId")),
        )
        .map(
          (rule) =>
            (rule.Properties.SourceSecurityGroupId as { "Fn::GetAtt": [string] })["Fn::GetAtt"][0],
        )
        .sort();
    const groupsOf = (filter: (needs: Needs) => boolean) =>
      ALL_HANDLERS.filter((h) => filter(needsOf(h)))
        .map((h) => securityGroupOf(template, h))
        .sort();
    expect(sources(ids.cacheGroup)).toEqual(groupsOf((needs) => needs.redis));
    expect(sources(ids.proxyGroup)).toEqual(groupsOf((needs) => needs.database));
  });

  it("feeds the consumer from the queue with partial batch failures and bounded concurrency", () => {
    const [consumerId] = functionOf(template, CONSUMER_HANDLER);
    template.resourceCountIs("AWS::Lambda::EventSourceMapping", 1);
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: consumerId },
      EventSourceArn: getAtt(backends(template).ordersQueue, "Arn"),
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 1,
      ScalingConfig: { MaximumConcurrency: 5 },
    });
  });
});

describe("Migrations", () => {
  it("run through a custom resource whose provider invokes the migration function", () => {
    const [migrateId] = functionOf(template, MIGRATE_HANDLER);
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
      (alarm) => alarm.Properties.Namespace === "AWS/Lambda" && alarm.Properties.Dimensions,
    );
    const handlerCount = ALL_HANDLERS.length;
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

describe("Routes added to lambdas/registry.ts later", () => {
  const stub = fixture("http-handler");
  const invented = [
    {
      routeKey: "GET /admin/sales/{saleId}/report",
      handler: "sale-stats",
      authorization: "jwt",
      scopes: ["admin"],
    },
    {
      routeKey: "GET /sales/{saleId}/position",
      handler: "queue-position",
      authorization: "jwt",
      scopes: [],
    },
  ] as const satisfies readonly HttpRouteDefinition[];
  const routes = [...HTTP_ROUTES, ...invented];
  let later: Template;
  beforeAll(() => {
    const { stack } = awsApp({
      context: { jwtIssuer: "https://issuer.test/" },
      routes,
      entries: { "sale-stats": stub, "queue-position": stub },
    });
    later = templateOf(stack);
  });

  it("get a function and a route each, with their scopes", () => {
    later.resourceCountIs("AWS::ApiGatewayV2::Route", routes.length);
    for (const route of invented) {
      later.hasResourceProperties("AWS::ApiGatewayV2::Route", {
        RouteKey: route.routeKey,
        AuthorizationType: "JWT",
        AuthorizationScopes: route.scopes.length > 0 ? [...route.scopes] : Match.absent(),
      });
      functionOf(later, route.handler);
    }
  });

  it("get Redis by default, and behind the admin scope also the database and queue depths", () => {
    const stats = envOf(later, "sale-stats");
    expect(stats).toMatchObject({
      REDIS_URL: expect.anything(),
      DATABASE_HOST: expect.anything(),
      ORDERS_QUEUE_URL: expect.anything(),
      ORDERS_DLQ_URL: expect.anything(),
    });
    const position = envOf(later, "queue-position");
    expect(position.REDIS_URL).toBeDefined();
    expect(Object.keys(position).filter((k) => /^(DATABASE|ORDERS)_/.test(k))).toEqual([]);
    for (const route of invented) {
      expect(grantsOfRole(later, roleOf(later, route.handler)), route.handler).toEqual(
        expectedGrants(later, needsOf(route.handler, routes)),
      );
    }
  });

  it("let an admin handler read queue attributes only", () => {
    const sqsActions = grantsOfRole(later, roleOf(later, "sale-stats"))
      .filter((grant) => grant.startsWith("sqs:"))
      .map((grant) => grant.split(" ")[0]);
    expect([...new Set(sqsActions)]).toEqual(["sqs:GetQueueAttributes"]);
  });
});

describe("Scheduled order repair", () => {
  it("runs repair-orders every minute from EventBridge, one attempt (the next minute retries)", () => {
    const [fnId] = functionOf(template, REPAIR_ORDERS_HANDLER);
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 minute)",
      State: "ENABLED",
      Targets: [
        Match.objectLike({
          Arn: getAtt(fnId, "Arn"),
          RetryPolicy: { MaximumRetryAttempts: 0 },
        }),
      ],
    });
    template.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      FunctionName: getAtt(fnId, "Arn"),
      Principal: "events.amazonaws.com",
    });
  });

  it("gives it a grace period past the buy's timeout and a lock as long as its own timeout", () => {
    const [, fn] = functionOf(template, REPAIR_ORDERS_HANDLER);
    const env = envOf(template, REPAIR_ORDERS_HANDLER);
    // Default httpTimeoutSeconds 10: max(60, 2 × 10 + 30).
    expect(env.REPAIR_GRACE_SECONDS).toBe("60");
    expect(env.REPAIR_LOCK_TTL_SECONDS).toBe(String(fn.Properties.Timeout));
  });

  it("reads its EMF figures in the FlashSale namespace (no metric filter) and alarms on a backlog three runs long", () => {
    const filters = Object.values(resourcesOf(template, "AWS::Logs::MetricFilter")).filter((f) =>
      JSON.stringify(f.Properties.FilterPattern).includes("order repair"),
    );
    expect(filters).toEqual([]);
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "FlashSale",
      MetricName: "RepairBacklog",
      Dimensions: [{ Name: "service", Value: "flash-sale" }],
      Statistic: "Minimum",
      Threshold: 1,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      AlarmActions: [{ Ref: Match.stringLikeRegexp("^MonitoringAlarmTopic") }],
      AlarmDescription: Match.stringLikeRegexp("order repair"),
    });
    const [dashboard] = Object.values(resourcesOf(template, "AWS::CloudWatch::Dashboard"));
    expect(JSON.stringify(dashboard?.Properties.DashboardBody)).toContain("Order repair");
  });

  it("graphs the functions' EMF metrics: buys by outcome and the consumer's counts, namespace FlashSale", () => {
    const [dashboard] = Object.values(resourcesOf(template, "AWS::CloudWatch::Dashboard"));
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);
    expect(body).toContain("{FlashSale,outcome,service} MetricName=");
    for (const name of METRIC_NAMES) expect(body, name).toContain(name);
  });
});

describe("Platform alarms", () => {
  it("alarm on the cache's engine CPU and memory, Aurora's ACUs, the proxy's clients and account concurrency, each with a reason", () => {
    const alarms = Object.values(resourcesOf(template, "AWS::CloudWatch::Alarm")).map(
      (a) => a.Properties,
    );
    const find = (namespace: string, metric: string) =>
      alarms.find((a) => a.Namespace === namespace && a.MetricName === metric);
    const expected: Array<[string, string, number]> = [
      ["AWS/ElastiCache", "EngineCPUUtilization", 80],
      ["AWS/ElastiCache", "DatabaseMemoryUsagePercentage", 80],
      // dbMaxCapacity 4 by default: 90% of it.
      ["AWS/RDS", "ServerlessDatabaseCapacity", 3.6],
      ["AWS/RDS", "ClientConnections", 800],
      ["AWS/Lambda", "ConcurrentExecutions", 800],
    ];
    for (const [namespace, metric, threshold] of expected) {
      const alarm = find(namespace, metric);
      expect(alarm, `${namespace} ${metric}`).toBeDefined();
      expect(alarm?.Threshold).toBe(threshold);
      expect(String(alarm?.AlarmDescription).length).toBeGreaterThan(60);
      expect(alarm?.AlarmActions).toEqual([
        { Ref: expect.stringMatching(/^MonitoringAlarmTopic/) },
      ]);
    }
    expect(find("AWS/ElastiCache", "EngineCPUUtilization")?.Dimensions).toEqual([
      {
        Name: "ReplicationGroupId",
        Value: { Ref: expect.stringMatching(/^CacheReplicationGroup/) },
      },
    ]);
    expect(find("AWS/RDS", "ClientConnections")?.Dimensions).toEqual([
      { Name: "ProxyName", Value: { Ref: expect.stringMatching(/^DatabaseClusterProxy/) } },
    ]);
  });
});

describe("Draw runner", () => {
  it("runs every minute from an EventBridge rule, with 2048 MB and 300 s for a draw over a million entries", () => {
    const [fnId, fn] = functionOf(template, RUN_DRAWS_HANDLER);
    expect(fn.Properties).toMatchObject({ MemorySize: RUN_DRAWS_MEMORY_MB, Timeout: 300 });
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 minute)",
      Targets: [Match.objectLike({ Arn: { "Fn::GetAtt": [fnId, "Arn"] } })],
    });
  });

  it("alarms on an accepted entry that reached Postgres after its draw had not seen it", () => {
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "FlashSale",
      MetricName: "EntriesAfterDraw",
      Threshold: 1,
      AlarmActions: [{ Ref: Match.stringLikeRegexp("^MonitoringAlarmTopic") }],
    });
  });
});
