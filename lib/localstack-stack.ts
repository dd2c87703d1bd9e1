import { CfnOutput, Duration, Stack } from "aws-cdk-lib";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { HTTP_ROUTES } from "../lambdas/registry.js";
import { migrationsDigest, sqlMigrations } from "./bundling.js";
import { Functions } from "./constructs/functions.js";
import { FlashSaleHttpApi } from "./constructs/http-api.js";
import { Migrations } from "./constructs/migrations.js";
import { OrdersQueue } from "./constructs/orders-queue.js";
import { FlashSaleRestApi } from "./constructs/rest-api.js";
import type { FlashSaleStackProps } from "./flash-sale-stack.js";
import { CONSUMER_HANDLER, handlerCatalog, MIGRATE_HANDLER } from "./handlers.js";
import { PROJECT_ROOT } from "./paths.js";

/** The same inputs as the AWS stack's. */
export type LocalStackFlashSaleStackProps = FlashSaleStackProps;

/**
 * The LocalStack deployment (`-c target=localstack`): the same queue, the
 * same handlers and routes, but no VPC, ElastiCache or Aurora (paid LocalStack
 * features). The functions reach the compose file's Redis and Postgres by URL,
 * and a REST API (v1) replaces the HTTP API unless `-c localstackPro=true`.
 */
export class LocalStackFlashSaleStack extends Stack {
  readonly functions: Functions;

  constructor(scope: Construct, id: string, props: LocalStackFlashSaleStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const projectRoot = props.projectRoot ?? PROJECT_ROOT;
    const routes = props.routes ?? HTTP_ROUTES;
    const logRetention = settings.logRetentionDays as RetentionDays;

    const orders = new OrdersQueue(this, "Orders", {
      consumerTimeoutSeconds: settings.consumerTimeoutSeconds,
      batchingWindowSeconds: settings.consumerBatchingWindowSeconds,
      maxReceiveCount: settings.maxReceiveCount,
    });
    const specs = handlerCatalog({ projectRoot, routes, entryOverrides: props.entryOverrides });
    this.functions = new Functions(this, "Functions", {
      settings,
      projectRoot,
      specs,
      orders,
      backends: {
        kind: "local",
        redisUrl: settings.localRedisUrl,
        databaseUrl: settings.localDatabaseUrl,
        sqsEndpoint: settings.localSqsEndpoint,
        restAdapter: !settings.localstackPro,
        jwtSecret: settings.localJwtSecret,
      },
      logRetention,
    });

    this.functions.get(CONSUMER_HANDLER)?.addEventSource(
      new SqsEventSource(orders.queue, {
        reportBatchItemFailures: true,
        batchSize: settings.consumerBatchSize,
        maxBatchingWindow: Duration.seconds(settings.consumerBatchingWindowSeconds),
        maxConcurrency: settings.consumerMaxConcurrency,
      }),
    );
    const migrate = this.functions.get(MIGRATE_HANDLER);
    if (migrate) {
      new Migrations(this, "Migrations", {
        handler: migrate,
        migrationsDigest: migrationsDigest(sqlMigrations(projectRoot)),
        triggers: { nonce: settings.migrationsNonce },
        logRetention,
      });
    }

    const targets = new Map<string, IFunction>(this.functions.byName);
    const api = settings.localstackPro
      ? new FlashSaleHttpApi(this, "HttpApi", {
          stage: settings.stage,
          routes,
          targets,
          jwtIssuer: settings.jwtIssuer,
          jwtAudience: settings.jwtAudience,
          throttleRateLimit: settings.throttleRateLimit,
          throttleBurstLimit: settings.throttleBurstLimit,
          logRetention,
        })
      : new FlashSaleRestApi(this, "RestApi", {
          stage: settings.stage,
          routes,
          targets,
          throttleRateLimit: settings.throttleRateLimit,
          throttleBurstLimit: settings.throttleBurstLimit,
        });

    new CfnOutput(this, "ApiUrl", { value: api.url, description: "Base URL of the API" });
    new CfnOutput(this, "OrdersQueueUrl", { value: orders.queue.queueUrl });
    new CfnOutput(this, "OrdersDeadLetterQueueUrl", { value: orders.deadLetterQueue.queueUrl });
  }
}
