import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { HTTP_ROUTES } from "../../lambdas/registry.js";
import {
  DEFAULT_SETTINGS,
  derivedDatabaseTimeouts,
  PROFILE_DEFAULTS,
  readSettings,
  SettingsError,
} from "../../lib/config.js";
import { MIGRATE_STATEMENT_TIMEOUT_MS } from "../../lib/constructs/functions.js";
import { throttleClass } from "../../lib/constructs/http-api.js";
import { awsApp, envOf, functionOf, resourcesOf, templateOf } from "./support/apps.js";

const ISSUER = { jwtIssuer: "https://issuer.test/", jwtAudience: "flash-sale-api" };
const ADMIN_HANDLERS = [
  ...new Set(HTTP_ROUTES.filter((r) => r.scopes.includes("admin")).map((r) => r.handler)),
];

/** A setting error's message (the synth's refusal), or "" when it is accepted. */
function refusal(context: Record<string, unknown>): string {
  try {
    readSettings(context);
    return "";
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    return error.message;
  }
}

let prod: Template;
let dev: Template;
beforeAll(() => {
  prod = templateOf(
    awsApp({ context: { stage: "prod", ...ISSUER, adminScope: "flash-sale/admin" } }).stack,
  );
  dev = templateOf(awsApp({ context: { stage: "test", ...ISSUER } }).stack);
});

describe("Stage profiles", () => {
  it("prod is chosen by the stage, dev otherwise, and -c profile overrides", () => {
    expect(readSettings({ stage: "prod", ...ISSUER }).profile).toBe("prod");
    expect(readSettings({ stage: "staging", ...ISSUER }).profile).toBe("dev");
    expect(readSettings({ stage: "staging", profile: "prod", ...ISSUER })).toMatchObject(
      PROFILE_DEFAULTS.prod,
    );
  });

  it("every prod default can be overridden by context", () => {
    const settings = readSettings({
      stage: "prod",
      ...ISSUER,
      dbReaders: "0",
      cacheNodeType: "cache.r7g.large",
      retainData: "false",
      maxReceiveCount: "3",
      edge: "false",
      cacheFinalSnapshot: "false",
      maintenanceWindow: "sat:01:00-sat:02:00",
    });
    expect(settings).toMatchObject({
      dbReaders: 0,
      cacheNodeType: "cache.r7g.large",
      retainData: false,
      maxReceiveCount: 3,
      edge: false,
      cacheFinalSnapshot: false,
      maintenanceWindow: "sat:01:00-sat:02:00",
    });
  });

  it("prod: an Aurora reader in another zone than the writer", () => {
    const instances = Object.values(resourcesOf(prod, "AWS::RDS::DBInstance"));
    expect(instances).toHaveLength(2);
    const zones = instances.map((i) => JSON.stringify(i.Properties.AvailabilityZone)).sort();
    expect(zones).toEqual([
      JSON.stringify({ "Fn::Select": [0, { "Fn::GetAZs": "" }] }),
      JSON.stringify({ "Fn::Select": [1, { "Fn::GetAZs": "" }] }),
    ]);
    for (const instance of instances) {
      expect(instance.Properties.PreferredMaintenanceWindow).toBe("sun:04:00-sun:05:00");
    }
    prod.hasResourceProperties("AWS::RDS::DBCluster", {
      DeletionProtection: true,
      PreferredMaintenanceWindow: "sun:04:00-sun:05:00",
      PreferredBackupWindow: "02:00-03:00",
    });
    // dev: one writer, zone left to RDS.
    const devInstances = Object.values(resourcesOf(dev, "AWS::RDS::DBInstance"));
    expect(devInstances).toHaveLength(1);
    expect(devInstances[0]?.Properties.AvailabilityZone).toBeUndefined();
  });

  it("prod: a non-burstable cache node in cluster mode, online resharding, a final snapshot, windows", () => {
    const [group] = Object.values(prod.findResources("AWS::ElastiCache::ReplicationGroup"));
    expect(group).toMatchObject({
      DeletionPolicy: "Snapshot",
      UpdatePolicy: { UseOnlineResharding: true },
      Properties: {
        CacheNodeType: "cache.m7g.large",
        ClusterMode: "enabled",
        NumNodeGroups: 1,
        PreferredMaintenanceWindow: "sun:04:00-sun:05:00",
        SnapshotWindow: "02:00-03:00",
      },
    });
    expect(envOf(prod, "buy").REDIS_CLUSTER).toBe("true");
    const [devGroup] = Object.values(dev.findResources("AWS::ElastiCache::ReplicationGroup"));
    expect(devGroup?.DeletionPolicy).not.toBe("Snapshot");
    expect(devGroup?.Properties.CacheNodeType).toBe("cache.t4g.small");
    expect(devGroup?.UpdatePolicy).toBeUndefined();
  });

  it("prod: RETAIN on the queues, the DLQ, every log group and every secret; dev deletes them", () => {
    for (const type of ["AWS::SQS::Queue", "AWS::Logs::LogGroup", "AWS::SecretsManager::Secret"]) {
      const policies = Object.values(prod.findResources(type)).map((r) => r.DeletionPolicy);
      expect(policies.length, type).toBeGreaterThan(0);
      expect(new Set(policies), type).toEqual(new Set(["Retain"]));
      const devPolicies = Object.values(dev.findResources(type)).map((r) => r.DeletionPolicy);
      expect(new Set(devPolicies), type).toEqual(new Set(["Delete"]));
    }
  });

  it("prod: more receives before the DLQ", () => {
    prod.hasResourceProperties("AWS::SQS::Queue", {
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 10 }),
    });
    dev.hasResourceProperties("AWS::SQS::Queue", {
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }),
    });
  });
});

describe("Guards at synth", () => {
  it("refuse the placeholder issuer outside the dev stage", () => {
    expect(refusal({ stage: "prod" })).toMatch(/jwtIssuer is the placeholder.*401/);
    expect(refusal({ stage: "staging" })).toMatch(/jwtIssuer is the placeholder/);
    expect(refusal({ stage: "dev" })).toBe("");
    // LocalStack verifies its own local tokens: no issuer there.
    expect(refusal({ stage: "staging", target: "localstack" })).toBe("");
  });

  it("treat cluster mode as create-time: shards above 1 need it, and it is never implied", () => {
    expect(refusal({ cacheShards: "3" })).toMatch(/cacheClusterMode=true.*create/);
    expect(refusal({ cacheShards: "3", cacheClusterMode: "true" })).toBe("");
    expect(readSettings({ cacheShards: "1" }).cacheClusterMode).toBe(false);
  });

  it("check concurrency against the account quota, naming it", () => {
    expect(refusal({ buyReservedConcurrency: "950" })).toMatch(
      /Lambda keeps 100 unreserved, so at most 900.*L-B99A9384|L-B99A9384.*at most 900/,
    );
    expect(refusal({ buyReservedConcurrency: "900" })).toBe("");
    // A new account's quota of 10: nothing can be reserved at all.
    expect(refusal({ accountConcurrency: "10", buyReservedConcurrency: "5" })).toMatch(/at most 0/);
    expect(refusal({ buyReservedConcurrency: "50", buyProvisionedConcurrency: "60" })).toMatch(
      /cannot exceed buyReservedConcurrency/,
    );
    expect(refusal({ accountConcurrency: "10", consumerMaxConcurrency: "10" })).toMatch(
      /consumerMaxConcurrency=10 must stay below/,
    );
  });

  it("honour maxAzs with named zones, refuse it without", () => {
    expect(refusal({ maxAzs: "3" })).toMatch(/environment-agnostic.*availabilityZones/);
    const zones = "eu-west-1a,eu-west-1b,eu-west-1c";
    expect(readSettings({ availabilityZones: zones }).maxAzs).toBe(3);
    expect(refusal({ availabilityZones: zones, maxAzs: "2" })).toMatch(/must equal/);
    expect(refusal({ availabilityZones: "eu-west-1a,us-east-1b" })).toMatch(/one region/);
    const template = templateOf(awsApp({ context: { availabilityZones: zones } }).stack);
    const subnetZones = new Set(
      Object.values(resourcesOf(template, "AWS::EC2::Subnet")).map(
        (s) => s.Properties.AvailabilityZone,
      ),
    );
    expect(subnetZones).toEqual(new Set(zones.split(",")));
  });

  it("refuse an adminScope that is not one OAuth scope, accept Cognito's form", () => {
    expect(readSettings({ adminScope: "flash-sale/admin" }).adminScope).toBe("flash-sale/admin");
    expect(readSettings({ adminScope: "https://api.example.com/admin" }).adminScope).toBe(
      "https://api.example.com/admin",
    );
    expect(refusal({ adminScope: "admin ops" })).toMatch(/adminScope/);
    expect(refusal({ adminScope: 'a"b' })).toMatch(/adminScope/);
  });
});

describe("Timeouts in order: statement < proxy borrow < function", () => {
  it("derive from the HTTP functions' timeout and stay in order for every allowed value", () => {
    expect(derivedDatabaseTimeouts(10)).toEqual({
      dbStatementTimeoutMs: 3000,
      dbBorrowTimeoutSeconds: 4,
    });
    for (let timeout = 3; timeout <= 29; timeout++) {
      const settings = readSettings({ httpTimeoutSeconds: String(timeout) });
      expect(settings.dbStatementTimeoutMs).toBeLessThan(settings.dbBorrowTimeoutSeconds * 1000);
      expect(
        settings.dbBorrowTimeoutSeconds * 1000 + settings.dbStatementTimeoutMs + 1000,
      ).toBeLessThan(timeout * 1000);
    }
  });

  it("refuse settings out of order", () => {
    expect(refusal({ dbStatementTimeoutMs: "4500" })).toMatch(
      /must be below dbBorrowTimeoutSeconds/,
    );
    expect(refusal({ dbBorrowTimeoutSeconds: "9" })).toMatch(/Lambda timeout instead of a 503/);
    expect(refusal({ httpTimeoutSeconds: "2" })).toMatch(/httpTimeoutSeconds/);
  });

  it("are what the template deploys", () => {
    const [proxy] = Object.values(resourcesOf(dev, "AWS::RDS::DBProxyTargetGroup"));
    if (!proxy) throw new Error("no proxy target group");
    const pool = proxy.Properties.ConnectionPoolConfigurationInfo as Record<string, number>;
    const borrow = pool.ConnectionBorrowTimeout as number;
    const httpTimeout = functionOf(dev, "get-order")[1].Properties.Timeout as number;
    for (const handler of ["get-order", "admin-reconcile", "admin-sale-stats", "consume-orders"]) {
      const statement = Number(envOf(dev, handler).DATABASE_STATEMENT_TIMEOUT_MS);
      const timeout = functionOf(dev, handler)[1].Properties.Timeout as number;
      expect(statement, handler).toBe(DEFAULT_SETTINGS.dbStatementTimeoutMs);
      expect(statement, handler).toBeLessThan(borrow * 1000);
      expect(borrow * 1000 + statement, handler).toBeLessThan(timeout * 1000);
    }
    expect(borrow).toBeLessThan(httpTimeout);
    expect(Number(envOf(dev, "migrate").DATABASE_STATEMENT_TIMEOUT_MS)).toBe(
      MIGRATE_STATEMENT_TIMEOUT_MS,
    );
  });
});

describe("Admin scope", () => {
  it("is required by every admin route's authorizer and given to its handler", () => {
    const routes = Object.values(resourcesOf(prod, "AWS::ApiGatewayV2::Route"));
    for (const route of HTTP_ROUTES) {
      const created = routes.find((r) => r.Properties.RouteKey === route.routeKey);
      const expected = route.scopes.includes("admin") ? ["flash-sale/admin"] : undefined;
      expect(created?.Properties.AuthorizationScopes, route.routeKey).toEqual(expected);
    }
    expect(ADMIN_HANDLERS.length).toBeGreaterThan(3);
    for (const handler of ADMIN_HANDLERS) {
      expect(envOf(prod, handler).ADMIN_SCOPE, handler).toBe("flash-sale/admin");
    }
    expect(envOf(prod, "buy").ADMIN_SCOPE).toBeUndefined();
    expect(envOf(dev, "admin-sales").ADMIN_SCOPE).toBe("admin");
  });
});

describe("HTTP API per-route throttles and CORS", () => {
  it("cap the public reads and the admin routes below the stage; buy keeps the stage's", () => {
    const [stage] = Object.values(resourcesOf(dev, "AWS::ApiGatewayV2::Stage"));
    const settings = stage?.Properties.RouteSettings as Record<string, Record<string, number>>;
    for (const route of HTTP_ROUTES) {
      const kind = throttleClass(route);
      const expected =
        kind === "admin"
          ? { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 20 }
          : kind === "public"
            ? { ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 500 }
            : undefined;
      expect(settings[route.routeKey], route.routeKey).toEqual(expected);
    }
    expect(
      throttleClass({
        routeKey: "POST /sales/{saleId}/buy",
        handler: "buy",
        authorization: "jwt",
        scopes: [],
      }),
    ).toBe("stage");
    expect(settings["GET /sales/{saleId}"]).toBeDefined();
  });

  it("answers a storefront's preflight when corsOrigins is set", () => {
    const template = templateOf(
      awsApp({ context: { corsOrigins: "https://shop.example.com" } }).stack,
    );
    template.hasResourceProperties("AWS::ApiGatewayV2::Api", {
      CorsConfiguration: Match.objectLike({
        AllowOrigins: ["https://shop.example.com"],
        AllowHeaders: ["authorization", "content-type", "idempotency-key"],
      }),
    });
    expect(JSON.stringify(resourcesOf(dev, "AWS::ApiGatewayV2::Api"))).not.toContain(
      "CorsConfiguration",
    );
    expect(refusal({ corsOrigins: "https://shop.example.com/path" })).toMatch(/corsOrigins/);
  });
});

describe("Edge (prod)", () => {
  it("puts CloudFront with a CLOUDFRONT web ACL in front, and refuses a region other than us-east-1", () => {
    prod.resourceCountIs("AWS::CloudFront::Distribution", 1);
    prod.hasResourceProperties("AWS::WAFv2::WebACL", {
      Scope: "CLOUDFRONT",
      DefaultAction: { Allow: {} },
    });
    const rules = prod.toJSON().Rules as Record<string, { Assertions: unknown[] }>;
    const region = Object.entries(rules).find(([id]) => id.startsWith("EdgeWebAclRegion"));
    expect(JSON.stringify(region?.[1])).toContain(
      '{"Fn::Equals":[{"Ref":"AWS::Region"},"us-east-1"]}',
    );
    dev.resourceCountIs("AWS::CloudFront::Distribution", 0);
    dev.resourceCountIs("AWS::WAFv2::WebACL", 0);
  });

  it("rate-limits per IP and runs AWS's managed rules; Bot Control and a buy challenge by context", () => {
    const [acl] = Object.values(resourcesOf(prod, "AWS::WAFv2::WebACL"));
    const rules = acl?.Properties.Rules as { Name: string; Statement: Record<string, unknown> }[];
    expect(rules.map((r) => r.Name)).toEqual([
      "RatePerIp",
      "AWSManagedRulesAmazonIpReputationList",
      "AWSManagedRulesCommonRuleSet",
      "AWSManagedRulesKnownBadInputsRuleSet",
    ]);
    expect(rules[0]?.Statement.RateBasedStatement).toEqual({
      Limit: 300,
      EvaluationWindowSec: 60,
      AggregateKeyType: "IP",
    });
    const extra = templateOf(
      awsApp({
        context: { stage: "prod", ...ISSUER, edgeBotControl: "true", edgeBuyChallenge: "captcha" },
      }).stack,
    );
    const [extraAcl] = Object.values(resourcesOf(extra, "AWS::WAFv2::WebACL"));
    const extraRules = extraAcl?.Properties.Rules as { Name: string; Action?: unknown }[];
    expect(extraRules.map((r) => r.Name)).toContain("AWSManagedRulesBotControlRuleSet");
    expect(extraRules.find((r) => r.Name === "BuyChallenge")?.Action).toEqual({ Captcha: {} });
  });

  it("uses a web ACL made elsewhere without the region rule", () => {
    const arn = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/shared/abc";
    const template = templateOf(
      awsApp({ context: { stage: "prod", ...ISSUER, edgeWebAclArn: arn } }).stack,
    );
    template.resourceCountIs("AWS::WAFv2::WebACL", 0);
    template.hasResourceProperties("AWS::CloudFront::Distribution", {
      DistributionConfig: Match.objectLike({ WebACLId: arn }),
    });
    expect(JSON.stringify(template.toJSON().Rules ?? {})).not.toContain("EdgeWebAclRegion");
    expect(
      refusal({ edgeWebAclArn: "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/x/y" }),
    ).toMatch(/CLOUDFRONT-scope/);
  });

  it("caches GET /sales/{saleId} for one second, forwards everything else uncached", () => {
    prod.hasResourceProperties("AWS::CloudFront::CachePolicy", {
      CachePolicyConfig: Match.objectLike({ MinTTL: 1, DefaultTTL: 1, MaxTTL: 1 }),
    });
    const [distribution] = Object.values(resourcesOf(prod, "AWS::CloudFront::Distribution"));
    const config = distribution?.Properties.DistributionConfig as {
      CacheBehaviors: { PathPattern: string; AllowedMethods: string[] }[];
      DefaultCacheBehavior: { CachePolicyId: string; OriginRequestPolicyId: string };
      Origins: {
        CustomOriginConfig: Record<string, unknown>;
        OriginCustomHeaders: { HeaderName: string }[];
      }[];
    };
    expect(config.CacheBehaviors.map((b) => b.PathPattern)).toEqual(["/sales/*/buy", "/sales/*"]);
    // AWS's managed CachingDisabled and AllViewerExceptHostHeader.
    expect(config.DefaultCacheBehavior.CachePolicyId).toBe("4135ea2d-6df8-44a3-9df3-4b5a84be39ad");
    expect(config.DefaultCacheBehavior.OriginRequestPolicyId).toBe(
      "b689b0a8-53d0-40ab-baf2-68738e2966ac",
    );
    const [origin] = config.Origins;
    expect(origin?.CustomOriginConfig).toMatchObject({
      OriginProtocolPolicy: "https-only",
      OriginSSLProtocols: ["TLSv1.2"],
    });
    expect(origin?.OriginCustomHeaders.map((h) => h.HeaderName)).toEqual(["x-origin-verify"]);
  });

  it("gives every HTTP function the origin secret to check, and no other function", () => {
    const ids = Object.keys(resourcesOf(prod, "AWS::Lambda::Function"));
    expect(ids.length).toBeGreaterThan(5);
    const httpHandlers = [...new Set(HTTP_ROUTES.map((r) => r.handler))];
    for (const handler of httpHandlers) {
      expect(JSON.stringify(envOf(prod, handler).ORIGIN_VERIFY_SECRET), handler).toContain(
        "EdgeOriginSecret",
      );
    }
    expect(envOf(prod, "consume-orders").ORIGIN_VERIFY_SECRET).toBeUndefined();
    expect(envOf(dev, "buy").ORIGIN_VERIFY_SECRET).toBeUndefined();
    prod.hasOutput("EdgeUrl", {});
  });
});
