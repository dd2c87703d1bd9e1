import { describe, expect, it } from "vitest";
import { recordBuy } from "../../loadtest/processor.js";
import { outcomeLabel, outcomeOf } from "../../local/api-outcome.js";

describe("outcomeOf: the two error shapes and who makes each", () => {
  it.each([
    [409, { error: { code: "SOLD_OUT", message: "x" } }, "api", "SOLD_OUT"],
    [429, '{"error":{"code":"RATE_LIMITED","message":"x"}}', "api", "RATE_LIMITED"],
    [429, { message: "Too Many Requests" }, "gateway", "TOO_MANY_REQUESTS"],
    [401, '{"message":"Unauthorized"}', "gateway", "UNAUTHORIZED"],
    [413, { message: "Request Entity Too Large" }, "gateway", "REQUEST_ENTITY_TOO_LARGE"],
    [502, "<html>bad gateway</html>", "unknown", "HTTP_502"],
    [500, { error: "oops" }, "unknown", "HTTP_500"],
  ])("%i %j → %s %s", (status, body, layer, code) => {
    expect(outcomeOf(status, body)).toEqual({ layer, code });
  });

  it("labels the gateway's refusals apart from the API's codes", () => {
    expect(outcomeLabel(outcomeOf(403, { message: "Forbidden" }))).toBe("gateway FORBIDDEN");
    expect(outcomeLabel(outcomeOf(409, { error: { code: "LIMIT_REACHED" } }))).toBe(
      "LIMIT_REACHED",
    );
  });
});

describe("the artillery processor counts AWS's gateway refusals as known outcomes", () => {
  it.each([
    [409, { error: { code: "SOLD_OUT", message: "" } }, "flashsale.refused.SOLD_OUT"],
    [429, { error: { code: "RATE_LIMITED", message: "" } }, "flashsale.refused.RATE_LIMITED"],
    [429, '{"message":"Too Many Requests"}', "flashsale.gateway.TOO_MANY_REQUESTS"],
    [401, { message: "Unauthorized" }, "flashsale.gateway.UNAUTHORIZED"],
    [502, "Bad Gateway", "flashsale.unexpected.502"],
  ])("%i %j → %s", async (statusCode, body, counter) => {
    const counters: string[] = [];
    await recordBuy(
      {},
      { statusCode, body },
      { vars: {} },
      { emit: (_event, name) => counters.push(name) },
    );
    expect(counters).toEqual([counter]);
  });
});
