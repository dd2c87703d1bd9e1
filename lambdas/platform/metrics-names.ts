/** The functions' CloudWatch namespace and metric names (no SDK: CDK imports them for the dashboard). */
export const METRICS_NAMESPACE = "FlashSale";

/** Every metric the functions emit; docs/observability.md lists them, the dashboard graphs them. */
export const METRIC_NAMES = [
  "Buys",
  "BuyReleasedAfterFailedSend",
  "OrdersPersisted",
  "OrdersDuplicate",
  "OrderRecordsFailed",
  "OrdersDeadLettered",
  "RepairStaleFound",
  "RepairRepaired",
  "RepairBacklog",
  "EventsPublished",
  "EventsPublishFailed",
  "Entries",
  "EntriesTakenBack",
  "EntriesPersisted",
  "EntriesAfterDraw",
  "DrawsDrawn",
  "DrawAwards",
  "DrawAwardSendFailed",
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];
