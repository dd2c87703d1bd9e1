import { appendFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { EVENT_SOURCE, type IntegrationEvent } from "../../domain/integration-events.js";
import type { EventPublisher, Logger } from "../../domain/ports.js";

/**
 * The local stack's event bus: each event as one JSON line appended to a
 * file in the stack's data folder (`tail -f` it; docs/events.md), in the
 * envelope EventBridge would deliver (source, detail-type, detail), and one
 * structured log line per event.
 */
export class FileEventRecorder implements EventPublisher {
  private ready: Promise<unknown> | undefined;

  constructor(
    private readonly path: string,
    private readonly logger?: Logger,
  ) {}

  async publish(events: IntegrationEvent[]): Promise<void> {
    if (events.length === 0) return;
    this.ready ??= mkdir(dirname(this.path), { recursive: true });
    await this.ready;
    const time = new Date().toISOString();
    const lines = events.map((event) =>
      JSON.stringify({
        time,
        source: EVENT_SOURCE,
        "detail-type": event.detailType,
        detail: event.detail,
      }),
    );
    // One append per call: the lines of a batch stay together even with several writers.
    await appendFile(this.path, `${lines.join("\n")}\n`);
    for (const event of events) {
      this.logger?.info("integration event", {
        detailType: event.detailType,
        eventId: event.detail.eventId,
        saleId: event.detail.saleId,
      });
    }
  }
}
