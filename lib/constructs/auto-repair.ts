import { Duration } from "aws-cdk-lib";
import {
  Alarm,
  ComparisonOperator,
  type Dashboard,
  GraphWidget,
  Metric,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import type { ITopic } from "aws-cdk-lib/aws-sns";
import { Construct } from "constructs";
import { METRICS_NAMESPACE } from "../../lambdas/platform/metrics-names.js";
import type { FlashSaleFunction } from "./flash-sale-function.js";

export interface AutoRepairProps {
  /** The repair-orders function (lambdas/handlers/repair-orders.ts). */
  fn: FlashSaleFunction;
  rateMinutes: number;
  /** The buy function's timeout: a buy cannot send after it, so the grace period outlasts it. */
  httpTimeoutSeconds: number;
  topic: ITopic;
  dashboard: Dashboard;
}

/**
 * The scheduled repair: an EventBridge rule runs repair-orders every minute
 * (one attempt: the next minute is the retry); each run's figures (stale
 * found, repaired, backlog: EMF from the function, lambdas/handlers/repair-orders.ts)
 * feed an alarm on the backlog and a dashboard row.
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

    const figure = (metricName: string, label?: string) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: "flash-sale" },
        period: Duration.minutes(1),
        statistic: "Sum",
        label,
      });
    const stale = figure("RepairStaleFound", "stale found");
    const repaired = figure("RepairRepaired", "repaired");
    const backlog = figure("RepairBacklog", "backlog");

    // A backlog three runs in a row: the repair cannot keep up (over its bound
    // each run) or its repairs fail; a person looks at the `order repair` lines.
    this.backlogAlarm = new Alarm(this, "BacklogAlarm", {
      // Unlabelled: a labelled metric would make the alarm a metric-math one.
      metric: figure("RepairBacklog").with({ statistic: "Minimum" }),
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
