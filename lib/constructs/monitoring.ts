import { Duration, Validations } from "aws-cdk-lib";
import type { IHttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  SingleValueWidget,
  TextWidget,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { FilterPattern, type ILogGroup } from "aws-cdk-lib/aws-logs";
import { Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { METRICS_NAMESPACE } from "../../lambdas/platform/metrics-names.js";

export interface MonitoringProps {
  stage: string;
  api: IHttpApi;
  queue: IQueue;
  deadLetterQueue: IQueue;
  /** Functions by handler name. */
  functions: ReadonlyMap<string, IFunction>;
  queueAgeAlarmSeconds: number;
  api5xxAlarmPercent: number;
  alarmEmail: string | undefined;
  /** The hold sweeper's log group: its `hold sweep` lines carry lagMs (how late the oldest expiry was). */
  expireHoldsLogs?: ILogGroup;
  /** The payment webhook's log group: refused payments (no such order, wrong amount) are logged there. */
  paymentWebhookLogs?: ILogGroup;
  /** Expiry later than this (seconds past a hold's end) alarms. */
  expiryLagAlarmSeconds?: number;
}

const MINUTE = Duration.minutes(1);

/**
 * Alarms on what loses or delays orders (a message in the DLQ, old messages in
 * the orders queue), on what users see (the API's 5xx rate) and on every
 * function's errors and throttles; all notify one SNS topic. One dashboard
 * shows the sale as it happens.
 */
export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly dashboard: Dashboard;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);

    this.topic = new Topic(this, "AlarmTopic", {
      displayName: `Flash Sale (${props.stage}) alarms`,
      enforceSSL: true,
    });
    Validations.of(this.topic).acknowledge({
      id: "AwsSolutions-SNS2",
      reason:
        "Alarm notifications carry alarm names and states only, no customer data. Encrypting the topic would need a customer-managed KMS key whose policy lets CloudWatch publish (the AWS-managed SNS key does not); not worth a key per stack.",
    });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    const action = new SnsAction(this.topic);

    const alarm = (
      id: string,
      metric: Metric | MathExpression,
      threshold: number,
      description: string,
      evaluationPeriods = 1,
      datapointsToAlarm = 1,
    ) => {
      const created = new Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods,
        datapointsToAlarm,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      created.addAlarmAction(action);
      created.addOkAction(action);
      this.alarms.push(created);
      return created;
    };

    const dlqDepth = props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: MINUTE,
      statistic: "Maximum",
    });
    alarm(
      "DeadLetterQueueNotEmpty",
      dlqDepth,
      1,
      "An order failed processing maxReceiveCount times and sits in the DLQ: inspect it, fix, redrive.",
    );

    const oldestAge = props.queue.metricApproximateAgeOfOldestMessage({
      period: MINUTE,
      statistic: "Maximum",
    });
    alarm(
      "OrdersQueueOldestMessageAge",
      oldestAge,
      props.queueAgeAlarmSeconds,
      `Orders wait more than ${props.queueAgeAlarmSeconds} s to be written: the consumer is failing or too slow.`,
      3,
      3,
    );

    const requests = props.api.metricCount({ period: MINUTE, statistic: "Sum" });
    const serverErrors = props.api.metricServerError({ period: MINUTE, statistic: "Sum" });
    const errorRate = new MathExpression({
      expression: "IF(requests > 0, 100 * errors / requests, 0)",
      usingMetrics: { requests, errors: serverErrors },
      period: MINUTE,
      label: "5xx rate (%)",
    });
    alarm(
      "Api5xxRate",
      errorRate,
      props.api5xxAlarmPercent,
      `More than ${props.api5xxAlarmPercent}% of API requests failed with a 5xx in 2 of the last 3 minutes.`,
      3,
      2,
    );

    // Integration events the consumer or the repair could not publish (after a retry): the
    // repair sends its sale events again next run, an OrderConfirmed is not re-sent (docs/events.md).
    alarm(
      "IntegrationEventsNotPublished",
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: "EventsPublishFailed",
        dimensionsMap: { service: "flash-sale" },
        period: Duration.minutes(5),
        statistic: "Sum",
      }),
      1,
      "Integration events were not published to EventBridge (EventsPublishFailed): OrderConfirmed events are not re-sent; see docs/events.md.",
    );

    // An accepted entry the draw did not see: Redis lost it before the draw and its
    // message reached the consumer only after (the draw writes the rows of every
    // entry it drew, so nothing else counts here). A person tells the buyer.
    alarm(
      "DrawEntriesAfterDraw",
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: "EntriesAfterDraw",
        dimensionsMap: { service: "flash-sale" },
        period: Duration.minutes(5),
        statistic: "Sum",
      }),
      1,
      "An accepted draw entry reached Postgres after its draw, which had not seen it (EntriesAfterDraw): see the consumer's log line 'entries arrived after their draw was recorded' and docs/draws.md.",
    );

    // Holds: expiry must keep up (reserve expires due holds itself for sales
    // buyers touch; the sweeper, once a minute, for the rest), and payments that
    // the webhook refuses or cannot match need a person.
    if (props.expireHoldsLogs) {
      const lag = props.expireHoldsLogs
        .addMetricFilter("ExpiryLagFilter", {
          filterPattern: FilterPattern.stringValue("$.message", "=", "hold sweep"),
          metricNamespace: "FlashSale",
          metricName: `ExpiryLagMs-${props.stage}`,
          metricValue: "$.lagMs",
        })
        .metric({ period: MINUTE, statistic: "Maximum" });
      const seconds = props.expiryLagAlarmSeconds ?? 180;
      alarm(
        "expiry-lag",
        lag,
        seconds * 1000,
        `Unpaid holds were expired more than ${seconds} s after they ended in 2 of the last 3 minutes: the sweeper is failing or falling behind.`,
        3,
        2,
      );
    }
    if (props.paymentWebhookLogs) {
      const refused = props.paymentWebhookLogs
        .addMetricFilter("PaymentProblemsFilter", {
          filterPattern: FilterPattern.any(
            FilterPattern.stringValue("$.level", "=", "ERROR"),
            FilterPattern.stringValue("$.message", "=", "payment for an unknown order"),
            FilterPattern.stringValue(
              "$.message",
              "=",
              "payment for an order that is not held for payment",
            ),
          ),
          metricNamespace: "FlashSale",
          metricName: `PaymentWebhookProblems-${props.stage}`,
          metricValue: "1",
          defaultValue: 0,
        })
        .metric({ period: MINUTE, statistic: "Sum" });
      alarm(
        "payment-webhook-problems",
        refused,
        1,
        "The payment webhook refused or could not match a payment (wrong amount or currency, unknown order) or failed: see its logs and reconcile.",
      );
    }

    const functionWidgets: GraphWidget[] = [];
    for (const [name, fn] of props.functions) {
      const errors = fn.metricErrors({ period: MINUTE, statistic: "Sum" });
      const throttles = fn.metricThrottles({ period: MINUTE, statistic: "Sum" });
      alarm(`${name}-errors`, errors, 1, `The ${name} function reported errors.`);
      alarm(`${name}-throttles`, throttles, 1, `The ${name} function was throttled.`);
      functionWidgets.push(
        new GraphWidget({
          title: `${name}: invocations, errors, throttles`,
          left: [fn.metricInvocations({ period: MINUTE, statistic: "Sum" }), errors, throttles],
          right: [fn.metricDuration({ period: MINUTE, statistic: "p99" })],
          width: 12,
        }),
      );
    }

    this.dashboard = new Dashboard(this, "Dashboard", {
      dashboardName: `flash-sale-${props.stage}`,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `# Flash Sale (${props.stage})\nBuys → Redis reservation → orders queue → consumer → Postgres.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "API requests and errors",
        left: [
          requests,
          props.api.metricClientError({ period: MINUTE, statistic: "Sum" }),
          serverErrors,
        ],
        right: [errorRate],
        width: 12,
      }),
      new GraphWidget({
        title: "API latency (p50, p99)",
        left: [
          props.api.metricLatency({ period: MINUTE, statistic: "p50" }),
          props.api.metricLatency({ period: MINUTE, statistic: "p99" }),
        ],
        width: 12,
      }),
      new GraphWidget({
        title: "Orders queue: depth and oldest message (s)",
        left: [
          props.queue.metricApproximateNumberOfMessagesVisible({
            period: MINUTE,
            statistic: "Maximum",
          }),
          props.queue.metricApproximateNumberOfMessagesNotVisible({
            period: MINUTE,
            statistic: "Maximum",
          }),
        ],
        right: [oldestAge],
        width: 12,
      }),
      new SingleValueWidget({ title: "Dead-letter queue", metrics: [dlqDepth], width: 12 }),
    );
    // The functions' own metrics (EMF, lambdas/adapters/metrics/emf-metrics.ts): buys by outcome (a SEARCH,
    // so every outcome code appears without listing them here), then the consumer's counts.
    const emf = (metricName: string, label: string) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: "flash-sale" },
        period: MINUTE,
        statistic: "Sum",
        label,
      });
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Buys by outcome (per minute)",
        left: [
          new MathExpression({
            expression: `SEARCH('{${METRICS_NAMESPACE},outcome,service} MetricName="Buys"', 'Sum', 60)`,
            label: "",
            period: MINUTE,
          }),
        ],
        width: 12,
      }),
      new GraphWidget({
        title: "Orders: persisted, duplicates, failed, dead-lettered; releases after a failed send",
        left: [
          emf("OrdersPersisted", "persisted"),
          emf("OrdersDuplicate", "duplicate deliveries"),
          emf("OrderRecordsFailed", "records failed (retried)"),
          emf("OrdersDeadLettered", "dead-lettered"),
        ],
        right: [
          new MathExpression({
            expression: `SEARCH('{${METRICS_NAMESPACE},outcome,service} MetricName="BuyReleasedAfterFailedSend"', 'Sum', 60)`,
            label: "released after a failed send",
            period: MINUTE,
          }),
        ],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Integration events: published, not published (docs/events.md)",
        left: [emf("EventsPublished", "published"), emf("EventsPublishFailed", "not published")],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Draws: entries by outcome; rows, late rows, draws, awards (docs/draws.md)",
        left: [
          new MathExpression({
            expression: `SEARCH('{${METRICS_NAMESPACE},outcome,service} MetricName="Entries"', 'Sum', 60)`,
            label: "entries",
            period: MINUTE,
          }),
          new MathExpression({
            expression: `SEARCH('{${METRICS_NAMESPACE},outcome,service} MetricName="EntriesTakenBack"', 'Sum', 60)`,
            label: "taken back after a failed send",
            period: MINUTE,
          }),
          emf("EntriesPersisted", "entry rows"),
          emf("EntriesAfterDraw", "rows after their draw"),
        ],
        right: [
          emf("DrawsDrawn", "draws"),
          emf("DrawAwards", "awards"),
          emf("DrawAwardSendFailed", "awards not sent (the repair persists them)"),
        ],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(...functionWidgets);
  }
}
