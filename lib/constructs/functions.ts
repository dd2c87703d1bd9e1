import { join } from "node:path";
import { Duration } from "aws-cdk-lib";
import { Peer, Port, SecurityGroup } from "aws-cdk-lib/aws-ec2";
import type { IEventBus } from "aws-cdk-lib/aws-events";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { ISecret } from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import { ADMIN_ROLE } from "../../lambdas/http/scopes.js";
import { RUN_DRAWS_HANDLER, RUN_DRAWS_MEMORY_MB } from "../../lambdas/registry.js";
import { dashboardFiles, luaScripts, sqlMigrations } from "../bundling.js";
import type { StackSettings } from "../config.js";
import { DASHBOARD_HANDLER, type HandlerSpec } from "../handlers.js";
import { dataRemovalPolicy } from "../removal.js";
import type { Cache } from "./cache.js";
import type { Database } from "./database.js";
import {
  commonEnvironment,
  FlashSaleFunction,
  type FlashSaleFunctionProps,
} from "./flash-sale-function.js";
import type { Network } from "./network.js";
import type { OrdersQueue } from "./orders-queue.js";

/** The migration function runs DDL for up to its 300 s timeout; its statements may take most of it. */
export const MIGRATE_STATEMENT_TIMEOUT_MS = 240_000;

/** The real AWS backends: functions run in the VPC and get secrets, not passwords. */
export interface AwsBackends {
  kind: "aws";
  network: Network;
  cache: Cache;
  database: Database;
  /** The payment provider's webhook signing secret (Stripe's `whsec_…`), put in by the operator. */
  paymentWebhookSecret: ISecret;
}

/** LocalStack: Redis and Postgres are the compose file's containers, reached by URL. */
export interface LocalBackends {
  kind: "local";
  redisUrl: string;
  databaseUrl: string;
  sqsEndpoint: string;
  /** Wrap HTTP handlers in the REST (v1) to HTTP API (v2) event adapter. */
  restAdapter: boolean;
  jwtSecret: string;
  /** The local simulated provider's webhook secret (never a real one). */
  paymentWebhookSecret?: string;
}

export interface FunctionsProps {
  settings: StackSettings;
  projectRoot: string;
  specs: HandlerSpec[];
  orders: OrdersQueue;
  backends: AwsBackends | LocalBackends;
  logRetention: RetentionDays;
  /** The edge's origin header value (a dynamic reference): every HTTP function checks it. */
  originVerifySecret?: string;
  /** The integration events' bus; without it no function publishes events. */
  eventBus?: IEventBus;
}

/** Entry of the LocalStack REST adapter; `flash-sale-route-handler` is aliased to the real handler. */
export const REST_ADAPTER_ENTRY = join("lib", "localstack", "rest-adapter-entry.ts");
export const ROUTE_HANDLER_ALIAS = "flash-sale-route-handler";

/**
 * One function per handler of the catalog, each given exactly what its
 * HandlerAccess says: environment variables, IAM grants and, in AWS, a
 * security group whose only ways out are the ones it needs.
 */
export class Functions extends Construct {
  readonly byName = new Map<string, FlashSaleFunction>();

  constructor(scope: Construct, id: string, props: FunctionsProps) {
    super(scope, id);
    const { settings, backends, orders } = props;
    const lua = JSON.stringify(luaScripts(props.projectRoot));

    for (const spec of props.specs) {
      const environment = commonEnvironment(settings.logLevel);
      const { access } = spec;

      if (access.redis) {
        if (backends.kind === "aws") {
          environment.REDIS_URL = backends.cache.url;
          environment.REDIS_AUTH_SECRET_ARN = backends.cache.authToken.secretArn;
          if (backends.cache.clusterMode) environment.REDIS_CLUSTER = "true";
        } else {
          environment.REDIS_URL = backends.redisUrl;
        }
      }
      if (access.database) {
        if (backends.kind === "aws") {
          environment.DATABASE_HOST = backends.database.proxy.endpoint;
          environment.DATABASE_PORT = String(backends.database.port);
          environment.DATABASE_NAME = backends.database.name;
          environment.DATABASE_SECRET_ARN = backends.database.secret.secretArn;
          environment.DATABASE_SSL = "true";
          // Below the proxy's borrow timeout, which is below the function's (lib/config.ts).
          environment.DATABASE_STATEMENT_TIMEOUT_MS = String(
            spec.kind === "migrate" ? MIGRATE_STATEMENT_TIMEOUT_MS : settings.dbStatementTimeoutMs,
          );
        } else {
          environment.DATABASE_URL = backends.databaseUrl;
          environment.DATABASE_SSL = "false";
        }
      }
      const usesSqs = access.sendOrders || access.queueStats || access.redrive;
      if (usesSqs) {
        environment.ORDERS_QUEUE_URL = orders.queue.queueUrl;
        if (backends.kind === "local") environment.SQS_ENDPOINT = backends.sqsEndpoint;
      }
      if (access.queueStats || access.redrive) {
        environment.ORDERS_DLQ_URL = orders.deadLetterQueue.queueUrl;
      }

      const publishesEvents = access.publishEvents && props.eventBus !== undefined;
      if (publishesEvents && props.eventBus)
        environment.EVENT_BUS_NAME = props.eventBus.eventBusName;

      // The consumer counts a record failing its last receive as dead-lettered (OrdersDeadLettered).
      if (spec.kind === "consumer")
        environment.QUEUE_MAX_RECEIVE_COUNT = String(settings.maxReceiveCount);

      if (access.paymentWebhookSecret) {
        if (backends.kind === "aws") {
          environment.PAYMENT_WEBHOOK_SECRET_ARN = backends.paymentWebhookSecret.secretArn;
        } else {
          environment.PAYMENT_WEBHOOK_SECRET =
            backends.paymentWebhookSecret ?? "whsec_local_flash_sale_development";
        }
      }

      // The OpenAPI document names the scope too, so a client generated from it asks for the right one.
      if (
        spec.name === "openapi" ||
        spec.routes.some((route) => route.scopes.includes(ADMIN_ROLE))
      ) {
        environment.ADMIN_SCOPE = settings.adminScope;
      }
      if (spec.kind === "http" && props.originVerifySecret !== undefined) {
        environment.ORIGIN_VERIFY_SECRET = props.originVerifySecret;
      }

      const define: Record<string, string> = { __LUA_SCRIPTS__: lua };
      if (spec.name === DASHBOARD_HANDLER) {
        define.__DASHBOARD_FILES__ = JSON.stringify(dashboardFiles(props.projectRoot));
      }
      if (spec.kind === "migrate") {
        define.__SQL_MIGRATIONS__ = JSON.stringify(sqlMigrations(props.projectRoot));
      }

      let entry = spec.entry;
      const aliases: string[] = [];
      if (spec.kind === "http" && backends.kind === "local" && backends.restAdapter) {
        entry = join(props.projectRoot, REST_ADAPTER_ENTRY);
        aliases.push(`${ROUTE_HANDLER_ALIAS}=${spec.entry}`);
        environment.LOCAL_JWT_SECRET = backends.jwtSecret;
      }

      const sizes =
        spec.kind === "http"
          ? { timeout: settings.httpTimeoutSeconds, memory: settings.httpMemoryMb }
          : spec.kind === "consumer"
            ? { timeout: settings.consumerTimeoutSeconds, memory: settings.consumerMemoryMb }
            : spec.name === RUN_DRAWS_HANDLER
              ? { timeout: 300, memory: RUN_DRAWS_MEMORY_MB }
              : { timeout: 300, memory: 256 };

      let network: Pick<FlashSaleFunctionProps, "vpc" | "vpcSubnets" | "securityGroups"> = {};
      let securityGroup: SecurityGroup | undefined;
      if (backends.kind === "aws") {
        securityGroup = new SecurityGroup(this, `${spec.name}SecurityGroup`, {
          vpc: backends.network.vpc,
          description: `${spec.name} function: egress only to what it uses`,
          allowAllOutbound: false,
        });
        network = {
          vpc: backends.network.vpc,
          vpcSubnets: backends.network.appSubnets,
          securityGroups: [securityGroup],
        };
      }

      const fn = new FlashSaleFunction(this, spec.name, {
        entry,
        projectRoot: props.projectRoot,
        description: describe(spec),
        timeout: Duration.seconds(sizes.timeout),
        memorySize: sizes.memory,
        environment,
        logRetention: props.logRetention,
        logRemovalPolicy: dataRemovalPolicy(settings.retainData),
        bundling: { define, aliases, bundleAwsSdk: settings.bundleAwsSdk },
        ...network,
        reservedConcurrentExecutions:
          spec.name === "buy" && settings.buyReservedConcurrency > 0
            ? settings.buyReservedConcurrency
            : undefined,
      });
      this.byName.set(spec.name, fn);

      // Grants: exactly the HandlerAccess, nothing by default.
      if (access.redis && backends.kind === "aws") backends.cache.authToken.grantRead(fn);
      if (access.database && backends.kind === "aws") backends.database.secret.grantRead(fn);
      if (access.paymentWebhookSecret && backends.kind === "aws") {
        backends.paymentWebhookSecret.grantRead(fn);
      }
      if (access.sendOrders) orders.queue.grant(fn, "sqs:SendMessage");
      if (publishesEvents) props.eventBus?.grantPutEventsTo(fn);
      if (access.queueStats) {
        orders.queue.grant(fn, "sqs:GetQueueAttributes");
        orders.deadLetterQueue.grant(fn, "sqs:GetQueueAttributes");
      }
      if (access.redrive) {
        orders.deadLetterQueue.grant(fn, "sqs:ReceiveMessage", "sqs:DeleteMessage");
        orders.queue.grant(fn, "sqs:SendMessage");
      }

      // Network paths (AWS): the cache, the RDS Proxy, HTTPS to the VPC endpoints.
      if (backends.kind === "aws" && securityGroup) {
        if (access.redis) backends.cache.connections.allowDefaultPortFrom(fn, `${spec.name}`);
        if (access.database) {
          backends.database.connections.allowDefaultPortFrom(fn, `${spec.name}`);
        }
        // Redis, database and webhook users fetch their secret; queue users call SQS; publishers EventBridge.
        if (
          access.redis ||
          access.database ||
          usesSqs ||
          access.paymentWebhookSecret ||
          publishesEvents
        ) {
          securityGroup.addEgressRule(
            Peer.ipv4(backends.network.vpc.vpcCidrBlock),
            Port.tcp(443),
            "HTTPS to the VPC interface endpoints (SQS, Secrets Manager, EventBridge)",
          );
        }
      }
    }
  }

  get(name: string): FlashSaleFunction | undefined {
    return this.byName.get(name);
  }
}

function describe(spec: HandlerSpec): string {
  if (spec.kind === "http") return `Flash Sale: ${spec.routes.map((r) => r.routeKey).join(", ")}`;
  if (spec.kind === "consumer") return "Flash Sale: writes queued orders to Postgres";
  if (spec.kind === "schedule" && spec.name === "repair-orders")
    return "Flash Sale: finishes orders left without a row (scheduled repair)";
  if (spec.kind === "schedule" && spec.name === RUN_DRAWS_HANDLER)
    return "Flash Sale: freezes, draws and awards the draws";
  if (spec.kind === "schedule") return "Flash Sale: expires unpaid holds, sends their history";
  return "Flash Sale: applies the SQL migrations (CloudFormation custom resource)";
}
