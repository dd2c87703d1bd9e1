import { Duration } from "aws-cdk-lib";
import {
  Alarm,
  ComparisonOperator,
  type Dashboard,
  GraphWidget,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import type { ILogGroup } from "aws-cdk-lib/aws-logs";
import { FilterPattern } from "aws-cdk-lib/aws-logs";
import type { ITopic } from "aws-cdk-lib/aws-sns";
import { Construct } from "constructs";
import type { FlashSaleFunction } from "./flash-sale-function.js";

export interface AutoRepairProps {
  stage: string;
  /** The repair-orders function (lambdas/handlers/repair-orders.ts). */
  fn: FlashSaleFunction;
  logGroup: ILogGroup;
  rateMinutes: number;
  /** The buy function's timeout: a buy cannot send after it, so the grace period outlasts it. */
  httpTimeoutSeconds: number;
  topic: ITopic;
  dashboard: Dashboard;
}

/** The metric namespace of the repair's figures (metric filters on its `order repair` log line). */
export const REPAIR_METRIC_NAMESPACE = "FlashSale";

/**
 * The scheduled repair: an EventBridge rule runs repair-orders every minute
 * (one attempt: the next minute is the retry); its log line becomes metrics
 * (stale found, repaired, backlog), an alarm on the backlog and a dashboard row.
 */
export class AutoRepair extends Construct {
  readonly rule: Rule;
  readonly backlogAlarm: Alarm;
  readonly graceSeconds: number;

  constructor(scope: Construct, id: string, props: AutoRepairProps) {
    super(scope, id);
    // Twice the buy's timeout plus half a minute of SQS delivery: past it, no
    // buy still running can send the message itself.
    this.graceSeconds = Math.max(60, 2 * props.httpTimeoutSeconds + 30);
    props.fn.addEnvironment("REPAIR_GRACE_SECONDS", String(this.graceSeconds));
    // The lock outlives a run that dies, for at most the function's timeout.
    props.fn.addEnvironment(
      "REPAIR_LOCK_TTL_SECONDS",
      String(props.fn.timeout?.toSeconds() ?? 300),
    );

    this.rule = new Rule(this, "Schedule", {
      description:
        "Runs the order repair: finishes reservations left without a message, writes confirmations without a row",
      schedule: Schedule.rate(Duration.minutes(props.rateMinutes)),
      targets: [new LambdaFunction(props.fn, { retryAttempts: 0 })],
    });

    const figure = (name: string, field: string) =>
      props.logGroup
        .addMetricFilter(`${name}Filter`, {
          filterPattern: FilterPattern.stringValue("$.message", "=", "order repair"),
          metricNamespace: REPAIR_METRIC_NAMESPACE,
          metricName: `Repair${name}-${props.stage}`,
          metricValue: `$.${field}`,
        })
        .metric({ period: Duration.minutes(1), statistic: "Sum" });
    const stale = figure("StaleFound", "staleFound");
    const repaired = figure("Repaired", "repaired");
    const backlog = figure("Backlog", "backlog");

    // A backlog three runs in a row: the repair cannot keep up (over its bound
    // each run) or its repairs fail; a person looks at the `order repair` lines.
    this.backlogAlarm = new Alarm(this, "BacklogAlarm", {
      metric: backlog.with({ statistic: "Minimum" }),
      threshold: 1,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription:
        "Orders without a row were left unrepaired by three repair runs in a row: the repair is over its bound or its writes fail; read the 'order repair' log lines.",
    });
    this.backlogAlarm.addAlarmAction(new SnsAction(props.topic));
    this.backlogAlarm.addOkAction(new SnsAction(props.topic));

    props.dashboard.addWidgets(
      new GraphWidget({
        title: "Order repair (per minute)",
        left: [stale, repaired, backlog],
        width: 24,
      }),
    );
  }
}
