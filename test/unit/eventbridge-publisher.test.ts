import type { PutEventsCommand, PutEventsCommandOutput } from "@aws-sdk/client-eventbridge";
import { describe, expect, it } from "vitest";
import {
  EventBridgePublisher,
  type PutEventsClient,
} from "../../lambdas/adapters/events/eventbridge-publisher.js";
import {
  EVENT_SOURCE,
  EventsNotPublishedError,
  orderConfirmed,
} from "../../lambdas/domain/integration-events.js";

/**
 * The EventBridge adapter against a fake PutEvents (only the AWS control plane
 * is faked): chunks of 10, one retry of exactly the entries that failed, and
 * what still fails named in EventsNotPublishedError.
 */
const events = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    orderConfirmed(
      { orderId: `o${i}`, saleId: "s", userId: "secret-user", quantity: 1, reservedAtMs: 0 },
      1000,
    ),
  );

type Entry = NonNullable<PutEventsCommand["input"]["Entries"]>[number];

/** A fake PutEvents: `answer` decides each entry's fate per call (true: accepted). */
function fakeClient(answer: (entry: Entry, call: number) => boolean | "throw"): PutEventsClient & {
  calls: Entry[][];
} {
  const calls: Entry[][] = [];
  return {
    calls,
    async send(command) {
      const entries = command.input.Entries ?? [];
      const call = calls.push(entries) - 1;
      if (entries.length > 10) throw new Error("ValidationException: more than 10 entries");
      const fates = entries.map((entry) => answer(entry, call));
      if (fates.includes("throw"))
        throw Object.assign(new Error("throttled"), { name: "ThrottlingException" });
      const output: PutEventsCommandOutput = {
        $metadata: {},
        FailedEntryCount: fates.filter((f) => !f).length,
        Entries: fates.map((ok, i) =>
          ok
            ? { EventId: `id-${call}-${i}` }
            : { ErrorCode: "InternalFailure", ErrorMessage: "try again" },
        ),
      };
      return output;
    },
  };
}

const idOf = (entry: Entry) => JSON.parse(entry.Detail ?? "{}").eventId as string;

describe("EventBridgePublisher", () => {
  it("sends 23 events as chunks of 10, 10 and 3, with our source, detail-type and bus", async () => {
    const client = fakeClient(() => true);
    await new EventBridgePublisher(client, "flash-sale-test").publish(events(23));
    expect(client.calls.map((c) => c.length).sort((a, b) => a - b)).toEqual([3, 10, 10]);
    const all = client.calls.flat();
    expect(new Set(all.map(idOf)).size).toBe(23);
    expect(all[0]).toMatchObject({
      EventBusName: "flash-sale-test",
      Source: EVENT_SOURCE,
      DetailType: "OrderConfirmed",
    });
    expect(JSON.stringify(all)).not.toContain("secret-user");
  });

  it("retries only the entries FailedEntryCount reports, once, and resolves when they pass", async () => {
    const client = fakeClient((entry, call) => call > 0 || !["o2", "o5"].includes(idOf(entry)));
    await new EventBridgePublisher(client, "bus").publish(events(8));
    expect(client.calls.map((c) => c.map(idOf))).toEqual([
      ["o0", "o1", "o2", "o3", "o4", "o5", "o6", "o7"],
      ["o2", "o5"],
    ]);
  });

  it("names the entries that fail twice (and only them), after exactly one retry", async () => {
    const client = fakeClient((entry) => idOf(entry) !== "o13");
    const publishing = new EventBridgePublisher(client, "bus").publish(events(15));
    await expect(publishing).rejects.toBeInstanceOf(EventsNotPublishedError);
    await expect(publishing).rejects.toMatchObject({ failedEventIds: ["o13"] });
    await expect(publishing).rejects.toThrow(/1 of 15 .*InternalFailure/);
    expect(client.calls.map((c) => c.length).sort((a, b) => a - b)).toEqual([1, 5, 10]);
  });

  it("a call that throws is sent again whole; twice, and all of its events are named", async () => {
    const flaky = fakeClient((_, call) => (call === 0 ? "throw" : true));
    await new EventBridgePublisher(flaky, "bus").publish(events(4));
    expect(flaky.calls.map((c) => c.length)).toEqual([4, 4]);

    const down = fakeClient(() => "throw");
    await expect(new EventBridgePublisher(down, "bus").publish(events(3))).rejects.toMatchObject({
      failedEventIds: ["o0", "o1", "o2"],
      message: expect.stringMatching(/ThrottlingException/),
    });
    expect(down.calls).toHaveLength(2);
  });
});
