import type { EventPublisher, Logger } from "../../domain/ports.js";
import type { EventsConfig } from "../../platform/config.js";
import { createEventBridgeClient, EventBridgePublisher } from "./eventbridge-publisher.js";
import { FileEventRecorder } from "./file-recorder.js";

/**
 * The integration events' publisher the configuration chooses (readEventsConfig):
 * EventBridge, the local file, or none (undefined: the use cases then build no events).
 */
export function createEventPublisher(
  config: EventsConfig,
  logger?: Logger,
): EventPublisher | undefined {
  if (config.kind === "eventbridge") {
    return new EventBridgePublisher(createEventBridgeClient(config), config.busName);
  }
  if (config.kind === "file") return new FileEventRecorder(config.path, logger);
  return undefined;
}
