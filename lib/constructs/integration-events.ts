import { ArnFormat, Duration, type RemovalPolicy, Stack } from "aws-cdk-lib";
import { type Archive, EventBus, Rule } from "aws-cdk-lib/aws-events";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { LogGroup, ResourcePolicy, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { EVENT_SOURCE, INTEGRATION_EVENT_TYPES } from "../../lambdas/domain/integration-events.js";

export interface IntegrationEventsProps {
  stage: string;
  /** Days the archive keeps every event (lib/config.ts eventArchiveDays). */
  archiveDays: number;
  logRetention: RetentionDays;
  logRemovalPolicy: RemovalPolicy;
}

/**
 * The integration events (docs/events.md): a custom bus `flash-sale-<stage>`
 * the consumer and the repair publish to (the Functions construct grants
 * events:PutEvents on it to exactly those), an archive of every event of
 * ours for replay, and one example rule sending them all to a log group, so
 * they are visible out of the box; integrations add their own rules.
 */
export class IntegrationEvents extends Construct {
  readonly bus: EventBus;
  readonly archive: Archive;
  readonly logGroup: LogGroup;
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: IntegrationEventsProps) {
    super(scope, id);
    this.bus = new EventBus(this, "Bus", {
      eventBusName: `flash-sale-${props.stage}`,
      description: `Flash Sale (${props.stage}): integration events (SaleOpened, SaleSoldOut, OrderConfirmed, SaleClosed)`,
    });
    const ours = { source: [EVENT_SOURCE], detailType: [...INTEGRATION_EVENT_TYPES] };
    this.archive = this.bus.archive("Archive", {
      description: `Every Flash Sale (${props.stage}) integration event, for replay`,
      eventPattern: ours,
      retention: Duration.days(props.archiveDays),
    });
    // EventBridge writes to log groups named /aws/events/... .
    this.logGroup = new LogGroup(this, "Logs", {
      logGroupName: `/aws/events/flash-sale-${props.stage}`,
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });
    // The target by hand: aws-events-targets' CloudWatchLogGroup would put the log group's
    // resource policy in through a custom resource (a Lambda function of its own); a native
    // AWS::Logs::ResourcePolicy does the same, for this rule only.
    const logGroupArn = Stack.of(this).formatArn({
      service: "logs",
      resource: "log-group",
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      resourceName: this.logGroup.logGroupName,
    });
    this.rule = new Rule(this, "ToLogs", {
      eventBus: this.bus,
      description: "Example subscription: every integration event into a log group",
      eventPattern: ours,
      targets: [{ bind: () => ({ arn: logGroupArn }) }],
    });
    new ResourcePolicy(this, "LogsPolicy", {
      policyStatements: [
        new PolicyStatement({
          principals: [new ServicePrincipal("events.amazonaws.com")],
          actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
          resources: [this.logGroup.logGroupArn],
          conditions: { ArnEquals: { "aws:SourceArn": this.rule.ruleArn } },
        }),
      ],
    });
  }
}
