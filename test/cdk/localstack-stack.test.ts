import { rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Match, type Template } from "aws-cdk-lib/assertions";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HTTP_ROUTES } from "../../lambdas/registry.js";
import { parseRouteKey } from "../../lib/constructs/http-api.js";
import { handlerCatalog } from "../../lib/handlers.js";
import { PROJECT_ROOT } from "../../lib/paths.js";
import { signLocalToken } from "../../local/auth.js";
import { lambdaContext } from "../../local/lambda-context.js";
import {
  bundledLocalStackApp,
  envOf as envOfFunction,
  functionOf,
  localStackApp,
  resourcesOf,
  templateOf,
} from "./support/apps.js";

let template: Template;
beforeAll(() => {
  template = templateOf(localStackApp().stack);
});

const envOf = (handler: string) => envOfFunction(template, handler);

/** Every function of the stack, as lib/handlers.ts derives them from lambdas/. */
const specs = handlerCatalog({ projectRoot: PROJECT_ROOT });

describe("LocalStack target (-c target=localstack)", () => {
  it("deploys none of the paid services: no VPC, ElastiCache, RDS or HTTP API", () => {
    for (const type of [
      "AWS::EC2::VPC",
      "AWS::ElastiCache::ReplicationGroup",
      "AWS::RDS::DBCluster",
      "AWS::RDS::DBProxy",
      "AWS::ApiGatewayV2::Api",
      "AWS::SecretsManager::Secret",
    ]) {
      template.resourceCountIs(type, 0);
    }
  });

  it("keeps the queue, its DLQ and the consumer's event source as in AWS", () => {
    template.resourceCountIs("AWS::SQS::Queue", 2);
    template.hasResourceProperties("AWS::SQS::Queue", {
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }),
    });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    template.resourceCountIs("Custom::FlashSaleMigrations", 1);
  });

  it("fronts the same routes with a REST API (v1) on the same functions", () => {
    template.resourceCountIs("AWS::ApiGateway::RestApi", 1);
    template.resourceCountIs("AWS::ApiGateway::Method", HTTP_ROUTES.length);

    // Full path of every REST resource, rebuilt from the PathPart/ParentId chain.
    const resources = resourcesOf(template, "AWS::ApiGateway::Resource");
    const pathOf = (id: string): string => {
      const resource = resources[id];
      if (!resource) throw new Error(`no resource ${id}`);
      const parent = resource.Properties.ParentId as { Ref?: string };
      const prefix = parent.Ref ? pathOf(parent.Ref) : "";
      return `${prefix}/${resource.Properties.PathPart as string}`;
    };
    const routePaths = HTTP_ROUTES.map((route) => parseRouteKey(route.routeKey).path);
    // Exactly the routes' paths and their parents: nothing more is exposed.
    const prefixes = new Set(
      routePaths.flatMap((path) =>
        path
          .split("/")
          .slice(1)
          .map((_, i, parts) => `/${parts.slice(0, i + 1).join("/")}`),
      ),
    );
    expect(Object.keys(resources).map(pathOf).sort()).toEqual([...prefixes].sort());

    const methods = Object.values(resourcesOf(template, "AWS::ApiGateway::Method")).map(
      (method) => {
        const resource = method.Properties.ResourceId as { Ref?: string };
        const uri = JSON.stringify((method.Properties.Integration as { Uri: unknown }).Uri);
        return {
          routeKey: `${method.Properties.HttpMethod as string} ${resource.Ref ? pathOf(resource.Ref) : "/"}`,
          authorization: method.Properties.AuthorizationType,
          type: (method.Properties.Integration as { Type: string }).Type,
          fnId: /"Fn::GetAtt":\["(Functions[^"]+)","Arn"\]/.exec(uri)?.[1],
        };
      },
    );
    expect(methods.map((m) => m.routeKey).sort()).toEqual(
      HTTP_ROUTES.map((route) => route.routeKey).sort(),
    );
    for (const route of HTTP_ROUTES) {
      // No API Gateway authorizer: the adapter bundled around the handler checks tokens and scopes.
      expect(methods.find((m) => m.routeKey === route.routeKey)).toEqual({
        routeKey: route.routeKey,
        authorization: "NONE",
        type: "AWS_PROXY",
        fnId: functionOf(template, route.handler)[0],
      });
    }
  });

  it("points the functions at the compose file's Redis, Postgres and LocalStack's SQS, without secrets", () => {
    for (const spec of specs) {
      const env = envOf(spec.name);
      const usesSqs = spec.access.sendOrders || spec.access.queueStats || spec.access.redrive;
      expect(env.REDIS_URL, spec.name).toBe(spec.access.redis ? "redis://redis:6379" : undefined);
      if (spec.access.database) {
        expect(env, spec.name).toMatchObject({
          DATABASE_URL: "postgres://flashsale:flashsale@postgres:5432/flashsale",
          DATABASE_SSL: "false",
        });
      } else {
        expect(env.DATABASE_URL, spec.name).toBeUndefined();
      }
      expect(env.SQS_ENDPOINT, spec.name).toBe(usesSqs ? "http://localstack:4566" : undefined);
      // HTTP handlers sit behind the REST adapter, which verifies the local tokens.
      expect(env.LOCAL_JWT_SECRET, spec.name).toBe(
        spec.kind === "http" ? "flash-sale-local-development-secret" : undefined,
      );
    }
    expect(envOf("buy").SQS_ENDPOINT).toBe("http://localstack:4566");
    expect(envOf("admin-redrive")).toMatchObject({
      ORDERS_QUEUE_URL: expect.anything(),
      ORDERS_DLQ_URL: expect.anything(),
    });
    for (const fn of Object.values(resourcesOf(template, "AWS::Lambda::Function"))) {
      expect(fn.Properties.VpcConfig).toBeUndefined();
      const variables = (fn.Properties.Environment as { Variables?: Record<string, unknown> })
        ?.Variables;
      expect(Object.keys(variables ?? {}).filter((k) => k.endsWith("_SECRET_ARN"))).toEqual([]);
    }
  });

  it("uses the HTTP API and the real handlers with -c localstackPro=true", () => {
    const pro = templateOf(localStackApp({ context: { localstackPro: "true" } }).stack);
    pro.resourceCountIs("AWS::ApiGateway::RestApi", 0);
    pro.resourceCountIs("AWS::ApiGatewayV2::Api", 1);
    pro.resourceCountIs("AWS::ApiGatewayV2::Route", HTTP_ROUTES.length);
    pro.hasResourceProperties("AWS::ApiGatewayV2::Authorizer", { AuthorizerType: "JWT" });
    const [, buy] = functionOf(pro, "buy");
    const variables = (buy.Properties.Environment as { Variables: Record<string, unknown> })
      .Variables;
    expect(variables.LOCAL_JWT_SECRET).toBeUndefined();
  });
});

describe("LocalStack REST adapter bundles", () => {
  let outdir: string;
  let bundles: Map<string, string>;
  let bundled: Template;
  beforeAll(() => {
    ({ outdir, bundles, template: bundled } = bundledLocalStackApp());
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it("start every function with exactly the environment the stack gives it", async () => {
    // Each handler reads its configuration at cold start and throws, naming the variable,
    // when one is missing: importing the bundle with the template's variables (and nothing
    // else) proves the stack gives it what it reads. Hosts point nowhere; nothing is called.
    const saved = { ...process.env };
    const stackKeys = new Set(
      specs.flatMap((spec) => Object.keys(envOfFunction(bundled, spec.name))),
    );
    const nowhere = (key: string, value: unknown): string => {
      // Queue URLs are CloudFormation references in the template.
      if (typeof value !== "string") return `http://127.0.0.1:1/000000000000/${key.toLowerCase()}`;
      if (!/^(redis|postgres|http):\/\//.test(value)) return value;
      const url = new URL(value);
      url.hostname = "127.0.0.1";
      url.port = "1";
      return url.toString();
    };
    try {
      for (const spec of specs) {
        // The test run's log level (silent) stays.
        for (const key of stackKeys) if (key !== "POWERTOOLS_LOG_LEVEL") delete process.env[key];
        for (const [key, value] of Object.entries(envOfFunction(bundled, spec.name))) {
          if (key !== "POWERTOOLS_LOG_LEVEL") process.env[key] = nowhere(key, value);
        }
        process.env.REDIS_CONNECT_TIMEOUT_MS = "50";
        const dir = bundles.get(spec.name);
        if (!dir) throw new Error(`no bundle for ${spec.name}`);
        // A query string makes a fresh module instance: a real cold start per function.
        const url = `${pathToFileURL(join(dir, "index.mjs")).href}?cold-start`;
        const module = (await import(url)) as { handler: unknown };
        expect(typeof module.handler, spec.name).toBe("function");
      }
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });

  it("wrap the real handler module and check tokens and scopes before it runs", async () => {
    // What the handler module reads at its cold start (nothing is contacted by these requests).
    process.env.REDIS_URL = "redis://127.0.0.1:1";
    process.env.REDIS_CONNECT_TIMEOUT_MS = "50";
    const dir = bundles.get("upsert-sale");
    if (!dir) throw new Error("no upsert-sale bundle");
    const { handler } = (await import(join(dir, "index.mjs"))) as {
      handler: (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
    };
    const event = (authorization?: string) =>
      ({
        httpMethod: "POST",
        resource: "/sales",
        path: "/sales",
        headers: authorization ? { Authorization: authorization } : {},
        multiValueHeaders: {},
        body: "{}",
        isBase64Encoded: false,
        pathParameters: null,
        queryStringParameters: null,
        multiValueQueryStringParameters: null,
        stageVariables: null,
        requestContext: { identity: { sourceIp: "127.0.0.1" } },
      }) as unknown as APIGatewayProxyEvent;

    expect((await handler(event(), lambdaContext("upsert-sale"))).statusCode).toBe(401);
    const buyer = await signLocalToken({ sub: "bob" });
    expect((await handler(event(`Bearer ${buyer}`), lambdaContext("upsert-sale"))).statusCode).toBe(
      403,
    );
    // An admin passes the adapter and reaches the real handler, which validates the body.
    const admin = await signLocalToken({ sub: "ops", scopes: ["admin"] });
    const invalid = await handler(event(`Bearer ${admin}`), lambdaContext("upsert-sale"));
    expect(invalid.statusCode).toBe(400);
    expect(JSON.parse(invalid.body)).toMatchObject({ error: { code: "INVALID_REQUEST" } });
  });
});
