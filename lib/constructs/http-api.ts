import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import {
  type CfnStage,
  CorsHttpMethod,
  HttpApi,
  type HttpMethod,
  type HttpStage,
  LogGroupLogDestination,
} from "aws-cdk-lib/aws-apigatewayv2";
import { HttpJwtAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { ADMIN_ROLE, resolveScopes } from "../../lambdas/http/scopes.js";
import type { HttpRouteDefinition } from "../../lambdas/registry.js";

export interface FlashSaleHttpApiProps {
  stage: string;
  routes: readonly HttpRouteDefinition[];
  /** The function (or alias) that serves each handler name of the routes. */
  targets: ReadonlyMap<string, IFunction>;
  jwtIssuer: string;
  jwtAudience: string[];
  throttleRateLimit: number;
  throttleBurstLimit: number;
  logRetention: RetentionDays;
  /** The scope the admin role of lambdas/registry.ts stands for (default `admin`). */
  adminScope?: string;
  /** Per-route throttles (stage RouteSettings): the public GET routes, and the admin routes. */
  publicThrottle?: { rateLimit: number; burstLimit: number };
  adminThrottle?: { rateLimit: number; burstLimit: number };
  /** Storefront origins allowed by CORS; empty or absent: no CORS configuration. */
  corsOrigins?: string[];
  logRemovalPolicy?: RemovalPolicy;
}

/** Which per-route throttle a route gets: admin routes, public reads, or the stage's (buy, webhook, orders). */
export function throttleClass(route: HttpRouteDefinition): "admin" | "public" | "stage" {
  if (route.scopes.includes(ADMIN_ROLE)) return "admin";
  if (route.authorization === "none" && route.routeKey.startsWith("GET ")) return "public";
  return "stage";
}

/** `POST /sales/{saleId}/buy` -> method and path; throws on anything else. */
export function parseRouteKey(routeKey: string): { method: HttpMethod; path: string } {
  const match = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\/\S*)$/.exec(routeKey);
  if (!match?.[1] || !match[2]) throw new Error(`Unsupported route key "${routeKey}"`);
  return { method: match[1] as HttpMethod, path: match[2] };
}

/**
 * The public HTTP API (API Gateway v2): the routes of lambdas/registry.ts, a JWT
 * authorizer in front of the "jwt" ones (with their scopes), throttling on the
 * default stage and JSON access logs.
 */
export class FlashSaleHttpApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: LogGroup;

  constructor(scope: Construct, id: string, props: FlashSaleHttpApiProps) {
    super(scope, id);

    this.api = new HttpApi(this, "Api", {
      apiName: `flash-sale-${props.stage}`,
      description: "Flash Sale Engine public API",
      createDefaultStage: false,
      // A storefront on another origin: API Gateway answers the preflight itself.
      corsPreflight:
        props.corsOrigins && props.corsOrigins.length > 0
          ? {
              allowOrigins: props.corsOrigins,
              allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST, CorsHttpMethod.OPTIONS],
              allowHeaders: ["authorization", "content-type", "idempotency-key"],
              exposeHeaders: ["retry-after"],
              maxAge: Duration.minutes(10),
            }
          : undefined,
    });

    this.accessLogs = new LogGroup(this, "AccessLogs", {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.stage = this.api.addStage("DefaultStage", {
      stageName: "$default",
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit, burstLimit: props.throttleBurstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: "$context.requestId",
            requestTime: "$context.requestTimeEpoch",
            ip: "$context.identity.sourceIp",
            routeKey: "$context.routeKey",
            status: "$context.status",
            responseLength: "$context.responseLength",
            responseLatency: "$context.responseLatency",
            integrationLatency: "$context.integrationLatency",
            integrationError: "$context.integrationErrorMessage",
            authorizerError: "$context.authorizer.error",
            sub: "$context.authorizer.claims.sub",
          }),
        ),
      },
    });

    const authorizer = new HttpJwtAuthorizer("JwtAuthorizer", props.jwtIssuer, {
      authorizerName: "jwt",
      jwtAudience: props.jwtAudience,
      identitySource: ["$request.header.Authorization"],
    });

    const integrations = new Map<string, HttpLambdaIntegration>();
    for (const route of props.routes) {
      const target = props.targets.get(route.handler);
      if (!target) throw new Error(`No function for handler ${route.handler}`);
      let integration = integrations.get(route.handler);
      if (!integration) {
        integration = new HttpLambdaIntegration(`${route.handler}-integration`, target);
        integrations.set(route.handler, integration);
      }
      const { method, path } = parseRouteKey(route.routeKey);
      const [created] = this.api.addRoutes({
        path,
        methods: [method],
        integration,
        authorizer: route.authorization === "jwt" ? authorizer : undefined,
        authorizationScopes:
          route.authorization === "jwt" && route.scopes.length > 0
            ? resolveScopes(route.scopes, props.adminScope ?? ADMIN_ROLE)
            : undefined,
      });
      if (route.authorization === "none" && created) {
        Validations.of(created).acknowledge({
          id: "AwsSolutions-APIG4",
          reason: `${route.routeKey} is public by design (lambdas/registry.ts marks it "none"): it returns a sale's public state only, and stage throttling bounds it.`,
        });
      }
    }

    // Per-route throttles: a flood of public reads or of admin calls cannot spend the
    // stage's bucket that the buy route needs.
    const routeSettings: Record<
      string,
      { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }
    > = {};
    for (const route of props.routes) {
      const kind = throttleClass(route);
      const limits =
        kind === "admin"
          ? props.adminThrottle
          : kind === "public"
            ? props.publicThrottle
            : undefined;
      if (limits) {
        routeSettings[route.routeKey] = {
          ThrottlingRateLimit: limits.rateLimit,
          ThrottlingBurstLimit: limits.burstLimit,
        };
      }
    }
    if (Object.keys(routeSettings).length > 0) {
      const cfnStage = this.stage.node.defaultChild as CfnStage;
      cfnStage.routeSettings = routeSettings;
      // RouteSettings name routes that must exist first.
      for (const child of this.api.node.children) {
        if (child.node.id !== "DefaultStage") cfnStage.node.addDependency(child);
      }
    }
  }

  /** The API's host name, `<api id>.execute-api.<region>.amazonaws.com` (the edge's origin). */
  get domainName(): string {
    return `${this.api.apiId}.execute-api.${this.api.stack.region}.${this.api.stack.urlSuffix}`;
  }

  /** `https://<api id>.execute-api.<region>.amazonaws.com/` */
  get url(): string {
    return this.stage.url;
  }
}
