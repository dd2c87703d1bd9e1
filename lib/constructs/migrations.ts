import { type CfnElement, CustomResource, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import type { Function as LambdaFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { Provider } from "aws-cdk-lib/custom-resources";
import { Construct } from "constructs";

export interface MigrationsProps {
  /** The migration function: a CloudFormation custom-resource onEvent handler. */
  handler: LambdaFunction;
  /** Digest of the SQL files bundled into the handler. */
  migrationsDigest: string;
  /** Anything that should trigger a re-run when it changes (endpoint, nonce). */
  triggers: Record<string, string>;
  logRetention: RetentionDays;
  logRemovalPolicy?: RemovalPolicy;
}

/**
 * Applies the SQL migrations during `cdk deploy`, through a custom resource
 * whose provider invokes the migration function. CloudFormation sends Create
 * on the first deploy and Update whenever a property changes: the digest of
 * the SQL files, the database endpoint, or the `migrationsNonce` context value
 * (to force a re-run). A failed migration fails the deployment and rolls it back.
 */
export class Migrations extends Construct {
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: MigrationsProps) {
    super(scope, id);
    const provider = new Provider(this, "Provider", {
      onEventHandler: props.handler,
      logGroup: new LogGroup(this, "ProviderLogs", {
        retention: props.logRetention,
        removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
      }),
    });
    // The provider framework's own function (CDK code, outside the VPC) only
    // invokes the migration function and answers CloudFormation.
    const handlerId = Stack.of(this).getLogicalId(props.handler.node.defaultChild as CfnElement);
    Validations.of(provider).acknowledge(
      {
        id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        reason:
          "CDK's provider framework function: the minimal Lambda logging policy, nothing else.",
      },
      {
        id: `AwsSolutions-IAM5[Resource::<${handlerId}.Arn>:*]`,
        reason:
          "CDK's provider framework may invoke the migration function and its versions (ARN:*); it is scoped to that one function.",
      },
    );

    this.resource = new CustomResource(this, "Resource", {
      serviceToken: provider.serviceToken,
      resourceType: "Custom::FlashSaleMigrations",
      properties: { migrationsDigest: props.migrationsDigest, ...props.triggers },
    });
  }
}
