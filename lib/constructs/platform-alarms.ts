import { Duration } from "aws-cdk-lib";
import {
  Alarm,
  ComparisonOperator,
  type Dashboard,
  GraphWidget,
  type MathExpression,
  Metric,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type { CfnReplicationGroup } from "aws-cdk-lib/aws-elasticache";
import type { DatabaseCluster, DatabaseProxy } from "aws-cdk-lib/aws-rds";
import type { ITopic } from "aws-cdk-lib/aws-sns";
import { Construct } from "constructs";

export interface PlatformAlarmsProps {
  cache: CfnReplicationGroup;
  database: DatabaseCluster;
  proxy: DatabaseProxy;
  /** The cluster's ceiling in ACUs (dbMaxCapacity). */
  dbMaxCapacity: number;
  /** The account's Lambda concurrency quota in this region (1000 unless raised). */
  accountConcurrency?: number;
  topic: ITopic;
  dashboard: Dashboard;
}

const MINUTE = Duration.minutes(1);

/**
 * Alarms on the capacity the drop runs on, each with its reason: the cache's
 * engine CPU and memory, the database's capacity against its ceiling, the
 * proxy's client connections, and the account's Lambda concurrency. A line of
 * the dashboard shows the same metrics.
 */
export class PlatformAlarms extends Construct {
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: PlatformAlarmsProps) {
    super(scope, id);
    const action = new SnsAction(props.topic);
    const alarm = (
      alarmId: string,
      metric: Metric | MathExpression,
      threshold: number,
      description: string,
    ) => {
      const created = new Alarm(this, alarmId, {
        metric,
        threshold,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      created.addAlarmAction(action);
      created.addOkAction(action);
      this.alarms.push(created);
      return created;
    };

    const cacheMetric = (metricName: string) =>
      new Metric({
        namespace: "AWS/ElastiCache",
        metricName,
        dimensionsMap: { ReplicationGroupId: props.cache.ref },
        period: MINUTE,
        statistic: "Maximum",
      });
    const cacheCpu = cacheMetric("EngineCPUUtilization");
    const cacheMemory = cacheMetric("DatabaseMemoryUsagePercentage");
    // Redis runs the reserve script on one thread: at ~80% engine CPU every buy queues behind others.
    alarm(
      "CacheEngineCpu",
      cacheCpu,
      80,
      "Valkey engine CPU >= 80% in 3 of 5 minutes: the one-threaded engine that runs every reserve is near saturation; buy latency rises next (add shards: cacheShards, or a larger node).",
    );
    // Past maxmemory Valkey evicts or refuses writes: reservations would fail.
    alarm(
      "CacheMemory",
      cacheMemory,
      80,
      "Valkey memory >= 80% of maxmemory in 3 of 5 minutes: reservations and order records would soon be refused; end old sales or grow the node.",
    );

    const acu = new Metric({
      namespace: "AWS/RDS",
      metricName: "ServerlessDatabaseCapacity",
      dimensionsMap: { DBClusterIdentifier: props.database.clusterIdentifier },
      period: MINUTE,
      statistic: "Maximum",
    });
    // At its ceiling Aurora cannot scale: the consumer slows, the queue grows.
    alarm(
      "DatabaseAcu",
      acu,
      Math.max(0.5, props.dbMaxCapacity * 0.9),
      `Aurora at >= 90% of its ${props.dbMaxCapacity} ACU ceiling in 3 of 5 minutes: it cannot scale further, the consumer slows and the orders queue grows (raise dbMaxCapacity).`,
    );

    const proxyConnections = new Metric({
      namespace: "AWS/RDS",
      metricName: "ClientConnections",
      dimensionsMap: { ProxyName: props.proxy.dbProxyName },
      period: MINUTE,
      statistic: "Maximum",
    });
    // Each consumer/admin container holds a small pool; many containers means many clients.
    alarm(
      "ProxyClientConnections",
      proxyConnections,
      800,
      "RDS Proxy client connections >= 800 in 3 of 5 minutes: consumer and admin containers multiplied (a redelivery storm or a concurrency setting too high); the proxy queues and borrows time out next.",
    );

    const quota = props.accountConcurrency ?? 1000;
    const concurrency = new Metric({
      namespace: "AWS/Lambda",
      metricName: "ConcurrentExecutions",
      period: MINUTE,
      statistic: "Maximum",
    });
    // Every function of the account shares the quota: at it, buys are throttled (API 5xx).
    alarm(
      "AccountConcurrency",
      concurrency,
      Math.floor(quota * 0.8),
      `Lambda concurrent executions >= 80% of the account quota (${quota}) in 3 of 5 minutes: at the quota buys are throttled and answer 5xx; ask for a quota increase before the next drop.`,
    );

    props.dashboard.addWidgets(
      new GraphWidget({
        title: "Valkey CPU / memory (%)",
        left: [cacheCpu, cacheMemory],
        width: 8,
      }),
      new GraphWidget({ title: "Aurora capacity (ACU)", left: [acu], width: 8 }),
      new GraphWidget({
        title: "Proxy clients / Lambda concurrency",
        left: [proxyConnections],
        right: [concurrency],
        width: 8,
      }),
    );
  }
}
