import { Annotations, CfnOutput, Duration, Stack, type StackProps, Validations } from "aws-cdk-lib";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import {
  EXPIRE_HOLDS_HANDLER,
  EXPIRE_HOLDS_RATE_MINUTES,
  HTTP_ROUTES,
  type HttpRouteDefinition,
  REPAIR_ORDERS_HANDLER,
  REPAIR_ORDERS_RATE_MINUTES,
  RUN_DRAWS_HANDLER,
  RUN_DRAWS_RATE_MINUTES,
} from "../lambdas/registry.js";
import { migrationsDigest, sqlMigrations } from "./bundling.js";
import { DEFAULT_SETTINGS, type StackSettings } from "./config.js";
import { AutoRepair } from "./constructs/auto-repair.js";
import { Cache } from "./constructs/cache.js";
import { Database } from "./constructs/database.js";
import { Edge, edgeUrl } from "./constructs/edge.js";
import { Functions } from "./constructs/functions.js";
import { FlashSaleHttpApi } from "./constructs/http-api.js";
import { IntegrationEvents } from "./constructs/integration-events.js";
import { Migrations } from "./constructs/migrations.js";
import { Monitoring } from "./constructs/monitoring.js";
import { Network } from "./constructs/network.js";
import { OrdersQueue } from "./constructs/orders-queue.js";
import { PlatformAlarms } from "./constructs/platform-alarms.js";
import { CONSUMER_HANDLER, handlerCatalog, MIGRATE_HANDLER } from "./handlers.js";
import { PROJECT_ROOT } from "./paths.js";
import { dataRemovalPolicy } from "./removal.js";

export interface FlashSaleStackProps extends StackProps {
  settings: StackSettings;
  /** Repository root (lambdas/, lua/, package-lock.json); defaults to this checkout. */
  projectRoot?: string;
  /** HTTP routes; defaults to lambdas/registry.ts. */
  routes?: readonly HttpRouteDefinition[];
  /** Entry files instead of lambdas/handlers/<name>.ts (tests use stubs). */
  entryOverrides?: Record<string, string>;
}

/**
 * The AWS deployment: network, cache, database, queue, functions, HTTP API,
 * migrations, alarms and dashboard, one construct per concern.
 */
export class FlashSaleStack extends Stack {
  readonly functions: Functions;
  readonly httpApi: FlashSaleHttpApi;
  readonly orders: OrdersQueue;
  readonly events: IntegrationEvents;
  /** CloudFront + WAF in front of the API (`-c edge=true`, the prod profile's default). */
  readonly edge: Edge | undefined;

  constructor(scope: Construct, id: string, props: FlashSaleStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const projectRoot = props.projectRoot ?? PROJECT_ROOT;
    const routes = props.routes ?? HTTP_ROUTES;
    const logRetention = settings.logRetentionDays as RetentionDays;
    // Queues, DLQ, log groups and secrets: RETAIN in prod (lib/removal.ts).
    const retain = dataRemovalPolicy(settings.retainData);

    if (settings.jwtIssuer === DEFAULT_SETTINGS.jwtIssuer) {
      Annotations.of(this).addWarningV2(
        "flash-sale:placeholder-jwt",
        `jwtIssuer is the placeholder ${DEFAULT_SETTINGS.jwtIssuer}: pass -c jwtIssuer=<your identity provider> (and -c jwtAudience=...) for a real deployment, or no token will ever be accepted.`,
      );
    }

    const network = new Network(this, "Network", {
      maxAzs: settings.maxAzs,
      availabilityZones: settings.availabilityZones,
      logRetention,
      removalPolicy: retain,
    });
    const cache = new Cache(this, "Cache", {
      vpc: network.vpc,
      subnets: network.dataSubnets,
      nodeType: settings.cacheNodeType,
      replicas: settings.cacheReplicas,
      shards: settings.cacheShards,
      clusterMode: settings.cacheClusterMode,
      finalSnapshot: settings.cacheFinalSnapshot,
      maintenanceWindow: settings.maintenanceWindow,
      snapshotWindow: settings.backupWindow,
      secretRemovalPolicy: retain,
      engineVersion: settings.cacheEngineVersion,
      stage: settings.stage,
    });
    const database = new Database(this, "Database", {
      vpc: network.vpc,
      subnets: network.dataSubnets,
      minCapacity: settings.dbMinCapacity,
      maxCapacity: settings.dbMaxCapacity,
      readers: settings.dbReaders,
      deletionProtection: settings.dbDeletionProtection,
      borrowTimeoutSeconds: settings.dbBorrowTimeoutSeconds,
      availabilityZones: network.vpc.availabilityZones,
      maintenanceWindow: settings.maintenanceWindow,
      backupWindow: settings.backupWindow,
      logRemovalPolicy: retain,
      secretRemovalPolicy: retain,
      logRetention,
      stage: settings.stage,
    });
    this.orders = new OrdersQueue(this, "Orders", {
      consumerTimeoutSeconds: settings.consumerTimeoutSeconds,
      batchingWindowSeconds: settings.consumerBatchingWindowSeconds,
      maxReceiveCount: settings.maxReceiveCount,
      removalPolicy: retain,
    });

    // Stripe's endpoint signing secret (whsec_…): created with a placeholder;
    // the operator puts the real one in (docs/payments.md). Read once per container.
    const paymentWebhookSecret = new Secret(this, "PaymentWebhookSecret", {
      description: `Flash Sale (${settings.stage}): the payment provider's webhook signing secret (Stripe whsec_...)`,
      removalPolicy: retain,
    });
    Validations.of(paymentWebhookSecret).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "The value is issued by the payment provider (Stripe rolls an endpoint's signing secret in its dashboard, with an overlap window); Secrets Manager cannot rotate it. Only the webhook function may read it.",
    });

    // The edge's origin header: generated here, added by CloudFront, checked by every HTTP function.
    const originSecret = settings.edge
      ? new Secret(this, "EdgeOriginSecret", {
          description: `Flash Sale (${settings.stage}): the header CloudFront adds to every request it forwards to the API`,
          generateSecretString: {
            excludePunctuation: true,
            includeSpace: false,
            passwordLength: 48,
          },
          removalPolicy: retain,
        })
      : undefined;
    if (originSecret) {
      Validations.of(originSecret).acknowledge({
        id: "AwsSolutions-SMG4",
        reason:
          "CloudFront's origin header and the functions' ORIGIN_VERIFY_SECRET are set from this value at deploy; a rotation is a stack update with a new value (docs/deploy.md), not a Secrets Manager rotation, since neither side reads the secret at run time.",
      });
    }
    const originSecretValue = originSecret?.secretValue.unsafeUnwrap();

    // The integration events' bus (docs/events.md): the consumer and the repair publish to it.
    this.events = new IntegrationEvents(this, "IntegrationEvents", {
      stage: settings.stage,
      archiveDays: settings.eventArchiveDays,
      logRetention,
      logRemovalPolicy: retain,
    });

    const specs = handlerCatalog({ projectRoot, routes, entryOverrides: props.entryOverrides });
    this.functions = new Functions(this, "Functions", {
      settings,
      projectRoot,
      specs,
      orders: this.orders,
      backends: { kind: "aws", network, cache, database, paymentWebhookSecret },
      logRetention,
      originVerifySecret: originSecretValue,
      eventBus: this.events.bus,
    });

    const consumer = this.functions.get(CONSUMER_HANDLER);
    if (consumer) {
      consumer.addEventSource(
        new SqsEventSource(this.orders.queue, {
          reportBatchItemFailures: true,
          batchSize: settings.consumerBatchSize,
          maxBatchingWindow: Duration.seconds(settings.consumerBatchingWindowSeconds),
          maxConcurrency: settings.consumerMaxConcurrency,
        }),
      );
    }

    // Expiry of unpaid holds for the sales no buyer touches (reserve-8.lua
    // expires due holds itself for the others), and the holds' history.
    const expireHolds = this.functions.get(EXPIRE_HOLDS_HANDLER);
    if (expireHolds) {
      new Rule(this, "ExpireHoldsSchedule", {
        description:
          "Runs the hold sweeper: expires unpaid holds, sends their history to the queue",
        schedule: Schedule.rate(Duration.minutes(EXPIRE_HOLDS_RATE_MINUTES)),
        targets: [new LambdaFunction(expireHolds, { retryAttempts: 0 })],
      });
    }

    // Draws (docs/draws.md): freeze at the close of entries, draw, award in drawn order.
    const runDraws = this.functions.get(RUN_DRAWS_HANDLER);
    if (runDraws) {
      new Rule(this, "RunDrawsSchedule", {
        description:
          "Runs the draw runner: freezes entries at their close, draws, awards in drawn order",
        schedule: Schedule.rate(Duration.minutes(RUN_DRAWS_RATE_MINUTES)),
        targets: [new LambdaFunction(runDraws, { retryAttempts: 0 })],
      });
    }

    const migrate = this.functions.get(MIGRATE_HANDLER);
    if (migrate) {
      const migrations = new Migrations(this, "Migrations", {
        handler: migrate,
        migrationsDigest: migrationsDigest(sqlMigrations(projectRoot)),
        triggers: {
          databaseEndpoint: database.proxy.endpoint,
          nonce: settings.migrationsNonce,
        },
        logRetention,
        logRemovalPolicy: retain,
      });
      // The proxy must be able to reach a running writer before the first migration.
      migrations.node.addDependency(database);
    }

    const targets = new Map<string, IFunction>();
    for (const [name, fn] of this.functions.byName) {
      if (name === "buy" && settings.buyProvisionedConcurrency > 0) {
        targets.set(
          name,
          fn.addAlias("live", {
            provisionedConcurrentExecutions: settings.buyProvisionedConcurrency,
          }),
        );
      } else {
        targets.set(name, fn);
      }
    }
    this.httpApi = new FlashSaleHttpApi(this, "HttpApi", {
      stage: settings.stage,
      routes,
      targets,
      jwtIssuer: settings.jwtIssuer,
      jwtAudience: settings.jwtAudience,
      throttleRateLimit: settings.throttleRateLimit,
      throttleBurstLimit: settings.throttleBurstLimit,
      adminScope: settings.adminScope,
      publicThrottle: {
        rateLimit: settings.publicThrottleRateLimit,
        burstLimit: settings.publicThrottleBurstLimit,
      },
      adminThrottle: {
        rateLimit: settings.adminThrottleRateLimit,
        burstLimit: settings.adminThrottleBurstLimit,
      },
      corsOrigins: settings.corsOrigins,
      logRemovalPolicy: retain,
      logRetention,
    });

    if (originSecretValue !== undefined) {
      this.edge = new Edge(this, "Edge", {
        stage: settings.stage,
        apiDomainName: this.httpApi.domainName,
        originSecretValue,
        webAclArn: settings.edgeWebAclArn,
        rateLimit: settings.edgeRateLimit,
        rateWindowSeconds: settings.edgeRateWindowSeconds,
        botControl: settings.edgeBotControl,
        buyChallenge: settings.edgeBuyChallenge,
        corsOrigins: settings.corsOrigins,
      });
      new CfnOutput(this, "EdgeUrl", {
        value: edgeUrl(this.edge),
        description: "Public URL: CloudFront + WAF (the ApiUrl refuses requests that skip it)",
      });
    }
    if (settings.profile === "prod" && /^cache\.t\d/.test(settings.cacheNodeType)) {
      Annotations.of(this).addWarningV2(
        "flash-sale:burstable-cache",
        `cacheNodeType ${settings.cacheNodeType} is burstable: under a drop it spends its CPU credits and slows down; the prod profile defaults to cache.m7g.large.`,
      );
    }

    const monitoring = new Monitoring(this, "Monitoring", {
      stage: settings.stage,
      api: this.httpApi.api,
      queue: this.orders.queue,
      deadLetterQueue: this.orders.deadLetterQueue,
      functions: this.functions.byName,
      queueAgeAlarmSeconds: settings.queueAgeAlarmSeconds,
      api5xxAlarmPercent: settings.api5xxAlarmPercent,
      alarmEmail: settings.alarmEmail,
      expireHoldsLogs: this.functions.get(EXPIRE_HOLDS_HANDLER)?.logGroup,
      paymentWebhookLogs: this.functions.get("payment-webhook")?.logGroup,
    });

    new PlatformAlarms(this, "PlatformAlarms", {
      cache: cache.replicationGroup,
      database: database.cluster,
      proxy: database.proxy,
      dbMaxCapacity: settings.dbMaxCapacity,
      topic: monitoring.topic,
      dashboard: monitoring.dashboard,
    });

    const repairOrders = this.functions.get(REPAIR_ORDERS_HANDLER);
    if (repairOrders) {
      new AutoRepair(this, "AutoRepair", {
        fn: repairOrders,
        rateMinutes: REPAIR_ORDERS_RATE_MINUTES,
        httpTimeoutSeconds: settings.httpTimeoutSeconds,
        topic: monitoring.topic,
        dashboard: monitoring.dashboard,
      });
    }

    new CfnOutput(this, "ApiUrl", {
      value: this.httpApi.url,
      description: "Base URL of the HTTP API",
    });
    new CfnOutput(this, "OrdersQueueUrl", {
      value: this.orders.queue.queueUrl,
      description: "Orders queue",
    });
    new CfnOutput(this, "OrdersDeadLetterQueueUrl", {
      value: this.orders.deadLetterQueue.queueUrl,
      description: "Orders DLQ (alarmed when not empty)",
    });
    new CfnOutput(this, "EventBusName", {
      value: this.events.bus.eventBusName,
      description: "Integration events (docs/events.md): add your rules on this bus",
    });
    new CfnOutput(this, "AlarmTopicArn", {
      value: monitoring.topic.topicArn,
      description: "Subscribe on-call here",
    });
    new CfnOutput(this, "DashboardName", { value: `flash-sale-${settings.stage}` });
    new CfnOutput(this, "CacheEndpoint", {
      value: cache.url,
      description: "Valkey primary (TLS, AUTH token in Secrets Manager)",
    });
    new CfnOutput(this, "DatabaseProxyEndpoint", { value: database.proxy.endpoint });
    new CfnOutput(this, "PaymentWebhookSecretArn", {
      value: paymentWebhookSecret.secretArn,
      description: "Put the Stripe endpoint's signing secret (whsec_...) here",
    });
  }
}
