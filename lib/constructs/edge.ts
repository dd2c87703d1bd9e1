import { Aws, CfnRule, Duration, Fn, Validations } from "aws-cdk-lib";
import {
  AllowedMethods,
  CacheCookieBehavior,
  CachedMethods,
  CacheHeaderBehavior,
  CachePolicy,
  CacheQueryStringBehavior,
  Distribution,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  OriginSslPolicy,
  ViewerProtocolPolicy,
} from "aws-cdk-lib/aws-cloudfront";
import { HttpOrigin } from "aws-cdk-lib/aws-cloudfront-origins";
import { CfnWebACL } from "aws-cdk-lib/aws-wafv2";
import { Construct } from "constructs";
import { ORIGIN_VERIFY_HEADER } from "../../lambdas/http/middleware.js";

export interface EdgeProps {
  stage: string;
  /** The HTTP API's host name (`<id>.execute-api.<region>.amazonaws.com`). */
  apiDomainName: string;
  /** The origin header's value (a dynamic reference to its secret); the functions check it. */
  originSecretValue: string;
  /** A CLOUDFRONT-scope web ACL managed elsewhere; without it one is made here (us-east-1 only). */
  webAclArn?: string;
  /** WAF rate-based rule: requests per client IP per window. */
  rateLimit: number;
  rateWindowSeconds: number;
  botControl: boolean;
  buyChallenge: "off" | "challenge" | "captcha";
  /** Storefront origins (CORS): the cached sale read varies on Origin when set. */
  corsOrigins: string[];
}

/** How long CloudFront serves GET /sales/{saleId} from its cache. */
export const SALE_READ_TTL_SECONDS = 1;

/**
 * CloudFront with AWS WAF in front of the HTTP API (HTTP APIs cannot take a web ACL).
 *
 * - WAF: a rate-based rule per client IP, AWS's IP reputation list, common rule set and known
 *   bad inputs; optionally Bot Control (common level) and a Challenge or CAPTCHA on the buy route.
 * - Caching: GET /sales/{saleId} for one second (a crowd polling a drop reaches the origin about
 *   once a second per edge location); everything else uncached, all viewer headers but Host
 *   forwarded (the JWT's Authorization header included).
 * - The origin: the API's execute-api host over TLS 1.2, with a secret header the functions
 *   verify (lambdas/http/middleware.ts), so the execute-api URL is useless around WAF.
 *
 * A CLOUDFRONT-scope web ACL must live in us-east-1. Design: one stack. When it makes the web
 * ACL, a CloudFormation rule refuses the deploy in any other region before anything is created;
 * a stack elsewhere passes `-c edgeWebAclArn=` (a web ACL made in us-east-1 by other means).
 */
export class Edge extends Construct {
  readonly distribution: Distribution;
  readonly webAclArn: string;
  readonly webAcl: CfnWebACL | undefined;

  constructor(scope: Construct, id: string, props: EdgeProps) {
    super(scope, id);

    if (props.webAclArn) {
      this.webAclArn = props.webAclArn;
    } else {
      this.webAcl = this.makeWebAcl(props);
      this.webAclArn = this.webAcl.attrArn;
      new CfnRule(this, "WebAclRegion", {
        assertions: [
          {
            assert: Fn.conditionEquals(Aws.REGION, "us-east-1"),
            assertDescription:
              "The edge's CLOUDFRONT-scope WAF web ACL can only be created in us-east-1: deploy this stack there, or pass -c edgeWebAclArn=<a web ACL made in us-east-1> (docs/deploy.md).",
          },
        ],
      });
    }

    const origin = new HttpOrigin(props.apiDomainName, {
      protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY,
      originSslProtocols: [OriginSslPolicy.TLS_V1_2],
      customHeaders: { [ORIGIN_VERIFY_HEADER]: props.originSecretValue },
      readTimeout: Duration.seconds(30),
    });

    const saleRead = new CachePolicy(this, "SaleReadCache", {
      comment: `Flash Sale (${props.stage}): GET /sales/{saleId}, ${SALE_READ_TTL_SECONDS} s`,
      minTtl: Duration.seconds(SALE_READ_TTL_SECONDS),
      defaultTtl: Duration.seconds(SALE_READ_TTL_SECONDS),
      maxTtl: Duration.seconds(SALE_READ_TTL_SECONDS),
      cookieBehavior: CacheCookieBehavior.none(),
      queryStringBehavior: CacheQueryStringBehavior.none(),
      headerBehavior:
        props.corsOrigins.length > 0
          ? CacheHeaderBehavior.allowList("Origin")
          : CacheHeaderBehavior.none(),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });

    const uncached = {
      origin,
      viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: AllowedMethods.ALLOW_ALL,
      cachePolicy: CachePolicy.CACHING_DISABLED,
      // With caching disabled this policy forwards Authorization too; Host stays the API's.
      originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
    };
    this.distribution = new Distribution(this, "Distribution", {
      comment: `Flash Sale (${props.stage}) edge`,
      httpVersion: HttpVersion.HTTP2_AND_3,
      webAclId: this.webAclArn,
      defaultBehavior: uncached,
      additionalBehaviors: {
        // Order matters: the buy route first, then the cached sale read.
        "/sales/*/buy": uncached,
        "/sales/*": {
          origin,
          viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
          cachedMethods: CachedMethods.CACHE_GET_HEAD,
          cachePolicy: saleRead,
          originRequestPolicy: OriginRequestPolicy.CORS_CUSTOM_ORIGIN,
        },
      },
    });
    Validations.of(this.distribution).acknowledge(
      {
        id: "AwsSolutions-CFR1",
        reason:
          "Where a drop may sell is the merchant's decision (shipping countries), not the platform's: a geo match rule in the web ACL or the distribution's geo restriction can be added per deployment; none by default.",
      },
      {
        id: "AwsSolutions-CFR3",
        reason:
          "No CloudFront standard logs (they need an S3 bucket of their own): every request that reaches the API is in its JSON access log, and WAF keeps sampled requests and per-rule metrics of what it blocked.",
      },
      {
        id: "AwsSolutions-CFR4",
        reason:
          "The distribution uses the default *.cloudfront.net certificate, with which CloudFront cannot set a minimum viewer TLS version; an alternate domain name with an ACM certificate (TLSv1.2_2021) is the documented next step (docs/deploy.md). The origin side is TLS 1.2 only.",
      },
    );
  }

  private makeWebAcl(props: EdgeProps): CfnWebACL {
    const metric = (name: string) => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
      metricName: `flash-sale-${props.stage}-${name}`,
    });
    const managed = (
      name: string,
      priority: number,
      extra: Partial<CfnWebACL.ManagedRuleGroupStatementProperty> = {},
    ): CfnWebACL.RuleProperty => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: { managedRuleGroupStatement: { vendorName: "AWS", name, ...extra } },
      visibilityConfig: metric(name),
    });

    const rules: CfnWebACL.RuleProperty[] = [
      {
        name: "RatePerIp",
        priority: 0,
        action: { block: {} },
        statement: {
          rateBasedStatement: {
            limit: props.rateLimit,
            evaluationWindowSec: props.rateWindowSeconds,
            aggregateKeyType: "IP",
          },
        },
        visibilityConfig: metric("rate-per-ip"),
      },
      managed("AWSManagedRulesAmazonIpReputationList", 1),
      // The webhook takes bodies up to 256 KB (Stripe's events); the rule set blocks over 8 KB.
      managed("AWSManagedRulesCommonRuleSet", 2, {
        ruleActionOverrides: [{ name: "SizeRestrictions_BODY", actionToUse: { count: {} } }],
      }),
      managed("AWSManagedRulesKnownBadInputsRuleSet", 3),
    ];
    if (props.botControl) {
      rules.push(
        managed("AWSManagedRulesBotControlRuleSet", 4, {
          managedRuleGroupConfigs: [
            { awsManagedRulesBotControlRuleSet: { inspectionLevel: "COMMON" } },
          ],
        }),
      );
    }
    if (props.buyChallenge !== "off") {
      rules.push({
        name: "BuyChallenge",
        priority: 5,
        action: props.buyChallenge === "captcha" ? { captcha: {} } : { challenge: {} },
        statement: {
          andStatement: {
            statements: [
              {
                byteMatchStatement: {
                  fieldToMatch: { method: {} },
                  positionalConstraint: "EXACTLY",
                  searchString: "POST",
                  textTransformations: [{ priority: 0, type: "NONE" }],
                },
              },
              {
                regexMatchStatement: {
                  fieldToMatch: { uriPath: {} },
                  regexString: "^/sales/[^/]+/buy$",
                  textTransformations: [{ priority: 0, type: "NONE" }],
                },
              },
            ],
          },
        },
        visibilityConfig: metric("buy-challenge"),
      });
    }
    return new CfnWebACL(this, "WebAcl", {
      name: `flash-sale-${props.stage}-edge`,
      description: `Flash Sale ${props.stage} - in front of the HTTP API`,
      scope: "CLOUDFRONT",
      defaultAction: { allow: {} },
      visibilityConfig: metric("web-acl"),
      rules,
    });
  }
}

/** The edge's public URL. */
export function edgeUrl(edge: Edge): string {
  return `https://${edge.distribution.distributionDomainName}/`;
}
