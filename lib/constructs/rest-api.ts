import { LambdaIntegration, RestApi } from "aws-cdk-lib/aws-apigateway";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { Construct } from "constructs";
import type { HttpRouteDefinition } from "../../lambdas/registry.js";
import { parseRouteKey } from "./http-api.js";

export interface FlashSaleRestApiProps {
  stage: string;
  routes: readonly HttpRouteDefinition[];
  targets: ReadonlyMap<string, IFunction>;
  throttleRateLimit: number;
  throttleBurstLimit: number;
}

/**
 * LocalStack's free plan has REST APIs (API Gateway v1) but no HTTP APIs, so
 * the local deployment fronts the same routes with a REST API. It has no JWT
 * authorizer: the functions behind it are wrapped in lib/localstack's adapter,
 * which verifies the bearer token and scopes the way the local host does and
 * hands the handler the v2 event it expects.
 */
export class FlashSaleRestApi extends Construct {
  readonly api: RestApi;

  constructor(scope: Construct, id: string, props: FlashSaleRestApiProps) {
    super(scope, id);
    this.api = new RestApi(this, "Api", {
      restApiName: `flash-sale-${props.stage}`,
      description: "Flash Sale Engine (LocalStack, REST API v1)",
      cloudWatchRole: false,
      deployOptions: {
        stageName: "local",
        throttlingRateLimit: props.throttleRateLimit,
        throttlingBurstLimit: props.throttleBurstLimit,
      },
    });
    const integrations = new Map<string, LambdaIntegration>();
    for (const route of props.routes) {
      const target = props.targets.get(route.handler);
      if (!target) throw new Error(`No function for handler ${route.handler}`);
      const integration = integrations.get(route.handler) ?? new LambdaIntegration(target);
      integrations.set(route.handler, integration);
      const { method, path } = parseRouteKey(route.routeKey);
      this.api.root.resourceForPath(path).addMethod(method, integration);
    }
  }

  get url(): string {
    return this.api.url;
  }
}
