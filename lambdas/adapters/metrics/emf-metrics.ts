import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { MetricsSink } from "../../domain/ports.js";
import type { MetricName } from "../../platform/metrics-names.js";
import { METRICS_NAMESPACE } from "../../platform/metrics-names.js";

export { METRIC_NAMES, METRICS_NAMESPACE } from "../../platform/metrics-names.js";

/**
 * The functions' CloudWatch metrics, as Embedded Metric Format lines on stdout
 * (Powertools Metrics): CloudWatch Logs turns them into metrics, so counting
 * costs the hot path no call. Namespace `FlashSale`, dimension `service`
 * (`flash-sale`); the buy function adds `outcome`, one of the bounded codes of
 * lambdas/domain/outcomes.ts. Sale ids are never a dimension (unbounded); the
 * order and sale ids are in the log lines instead. The local stack turns EMF
 * off (POWERTOOLS_METRICS_DISABLED), as nothing there reads it.
 */
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "flash-sale",
});

/** The use cases' MetricsSink on the container's Metrics; published by publishMetrics(). */
export const metricsSink: MetricsSink = {
  count(name, value = 1) {
    if (value > 0) metrics.addMetric(name, MetricUnit.Count, value);
  },
};

/**
 * A run's figures as one EMF line, zeros included: a gauge-like figure (the
 * repair's backlog) must read 0 when it is 0, where a count may be left out.
 */
export function publishFigures(figures: Partial<Record<MetricName, number>>): void {
  for (const [name, value] of Object.entries(figures))
    metrics.addMetric(name, MetricUnit.Count, value);
  publishMetrics();
}

/**
 * Writes what this invocation counted as one EMF line, with `dimensions` (bounded values
 * only), and clears it for the next invocation. Never throws: metrics must not fail a request.
 */
export function publishMetrics(dimensions: Record<string, string> = {}): void {
  try {
    for (const [name, value] of Object.entries(dimensions)) metrics.addDimension(name, value);
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    else metrics.clearDimensions();
  } catch {
    metrics.clearMetrics();
    metrics.clearDimensions();
  }
}
