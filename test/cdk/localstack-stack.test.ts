import { rmSync } from "node:fs";
import { join } from "node:path";
import { Match, type Template } from "aws-cdk-lib/assertions";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HTTP_ROUTES } from "../../lambdas/routes.js";
import { signLocalToken } from "../../local/auth.js";
import { lambdaContext } from "../../local/lambda-context.js";
import {
  bundledLocalStackApp,
  functionOf,
  localStackApp,
  resourcesOf,
  templateOf,
} from "./support/apps.js";

let template: Template;
beforeAll(() => {
  template = templateOf(localStackApp().stack);
});

const envOf = (handler: string) =>
  (
    functionOf(template, handler)[1].Properties.Environment as {
      Variables: Record<string, unknown>;
    }
  ).Variables;

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
    for (const route of HTTP_ROUTES) {
      const [method] = route.routeKey.split(" ");
      const [fnId] = functionOf(template, route.handler);
      template.hasResourceProperties("AWS::ApiGateway::Method", {
        HttpMethod: method,
        AuthorizationType: "NONE",
        Integration: {
          Type: "AWS_PROXY",
          Uri: Match.objectLike({
            "Fn::Join": Match.arrayWith([Match.arrayWith([{ "Fn::GetAtt": [fnId, "Arn"] }])]),
          }),
        },
      });
    }
    const paths = Object.values(resourcesOf(template, "AWS::ApiGateway::Resource")).map(
      (r) => r.Properties.PathPart,
    );
    expect(paths.sort()).toEqual(["buy", "sales", "{saleId}"]);
  });

  it("points the functions at the compose file's Redis, Postgres and LocalStack's SQS, without secrets", () => {
    for (const route of HTTP_ROUTES) {
      expect(envOf(route.handler)).toMatchObject({
        REDIS_URL: "redis://redis:6379",
        LOCAL_JWT_SECRET: "flash-sale-local-development-secret",
      });
    }
    expect(envOf("buy")).toMatchObject({ SQS_ENDPOINT: "http://localstack:4566" });
    for (const handler of ["consume-orders", "migrate"]) {
      expect(envOf(handler)).toMatchObject({
        DATABASE_URL: "postgres://flashsale:flashsale@postgres:5432/flashsale",
        DATABASE_SSL: "false",
      });
    }
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
  beforeAll(() => {
    ({ outdir, bundles } = bundledLocalStackApp());
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

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
