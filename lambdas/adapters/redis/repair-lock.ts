import { randomUUID } from "node:crypto";
import type { RepairLock } from "../../domain/auto-repair.js";
import type { RedisClient } from "./scripts.js";

/** One global key: the scheduled repair runs for all sales, one run at a time. */
export const REPAIR_LOCK_KEY = "repair:lock";

/**
 * The scheduled repair's lock: SET NX PX with a random token, released by
 * unlock-1.lua only while the token is still the holder's, so a run that
 * outlived its lock never frees the next run's.
 */
export class RedisRepairLock implements RepairLock {
  constructor(
    private readonly redis: RedisClient,
    private readonly key = REPAIR_LOCK_KEY,
  ) {}

  async acquire(ttlMs: number): Promise<string | null> {
    const token = randomUUID();
    const set = await this.redis.set(this.key, token, "PX", ttlMs, "NX");
    return set === "OK" ? token : null;
  }

  async release(token: string): Promise<void> {
    await this.redis.unlock(this.key, token);
  }
}
