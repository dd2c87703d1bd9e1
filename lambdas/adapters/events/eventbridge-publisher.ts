import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandOutput,
  type PutEventsRequestEntry,
} from "@aws-sdk/client-eventbridge";
import {
  EVENT_SOURCE,
  EventsNotPublishedError,
  type IntegrationEvent,
} from "../../domain/integration-events.js";
import type { EventPublisher } from "../../domain/ports.js";
import type { EventBridgeConfig } from "../../platform/config.js";
import { captureClient } from "../../platform/tracing.js";
import { awsRequestHandler } from "../aws-request-handler.js";

/** PutEvents takes at most 10 entries per call. */
export const MAX_PUT_EVENTS_ENTRIES = 10;

/** What the publisher needs of the SDK client (tests give a fake of the control plane). */
export interface PutEventsClient {
  send(command: PutEventsCommand): Promise<PutEventsCommandOutput>;
}

/** The EventBridge client: the SQS client's deadlines (awsRequestHandler), an X-Ray subsegment per call in AWS. */
export function createEventBridgeClient(config: EventBridgeConfig): EventBridgeClient {
  return captureClient(
    new EventBridgeClient({
      region: config.region,
      endpoint: config.endpoint,
      maxAttempts: config.maxAttempts,
      requestHandler: awsRequestHandler(config),
    }),
  );
}

/**
 * Integration events onto a custom bus: PutEvents in chunks of 10 (sent in
 * parallel); the entries a call did not accept (FailedEntryCount, an entry
 * with an ErrorCode, or the whole call failing) are sent once more, and what
 * still fails is named in an EventsNotPublishedError for the caller to log and
 * count (publishQuietly). The SDK's own retries cover throttling of a call.
 */
export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly client: PutEventsClient,
    private readonly busName: string,
  ) {}

  async publish(events: IntegrationEvent[]): Promise<void> {
    const chunks: IntegrationEvent[][] = [];
    for (let i = 0; i < events.length; i += MAX_PUT_EVENTS_ENTRIES) {
      chunks.push(events.slice(i, i + MAX_PUT_EVENTS_ENTRIES));
    }
    const outcomes = await Promise.all(chunks.map((chunk) => this.putChunk(chunk)));
    const failed = outcomes.flatMap((o) => o.failed);
    if (failed.length > 0) {
      const reasons = [...new Set(outcomes.flatMap((o) => o.reasons))].join(", ");
      throw new EventsNotPublishedError(
        failed,
        `EventBridge did not accept ${failed.length} of ${events.length} event(s): ${reasons}`,
      );
    }
  }

  private async putChunk(
    chunk: IntegrationEvent[],
  ): Promise<{ failed: string[]; reasons: string[] }> {
    let pending = chunk;
    let reasons: string[] = [];
    for (let attempt = 0; attempt < 2 && pending.length > 0; attempt++) {
      try {
        const output = await this.client.send(
          new PutEventsCommand({ Entries: pending.map((event) => this.entry(event)) }),
        );
        if (!output.FailedEntryCount) return { failed: [], reasons: [] };
        // Entries answer in request order; a failed one has an ErrorCode and no EventId.
        const results = output.Entries ?? [];
        reasons = results.flatMap((r) => (r.ErrorCode ? [r.ErrorCode] : []));
        pending = pending.filter((_, i) => {
          const result = results[i];
          return result === undefined || result.ErrorCode !== undefined || !result.EventId;
        });
      } catch (error) {
        reasons = [(error as Error).name || (error as Error).message];
      }
    }
    return { failed: pending.map((e) => e.detail.eventId), reasons };
  }

  private entry(event: IntegrationEvent): PutEventsRequestEntry {
    return {
      EventBusName: this.busName,
      Source: EVENT_SOURCE,
      DetailType: event.detailType,
      Detail: JSON.stringify(event.detail),
    };
  }
}
