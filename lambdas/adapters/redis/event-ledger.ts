import type { EventLedger } from "../../domain/ports.js";
import { eventMarkKey } from "./keys.js";
import type { RedisClient } from "./scripts.js";

/**
 * Which sale events were sent, one key per event (keys.ts eventMarkKey):
 * a claim is SET NX PX (only when no claim and no mark exists), the mark
 * overwrites it with a long TTL, a release deletes it.
 */
export class RedisEventLedger implements EventLedger {
  constructor(private readonly redis: RedisClient) {}

  async claim(eventId: string, claimMs: number): Promise<boolean> {
    return (await this.redis.set(eventMarkKey(eventId), "claimed", "PX", claimMs, "NX")) === "OK";
  }

  async markSent(eventId: string, keepMs: number): Promise<void> {
    await this.redis.set(eventMarkKey(eventId), "sent", "PX", keepMs);
  }

  async release(eventId: string): Promise<void> {
    await this.redis.del(eventMarkKey(eventId));
  }
}
