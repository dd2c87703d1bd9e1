import { describe, expect, it } from "vitest";
import { apiGatewayEvent, traceId } from "../../local/apigw-event.js";

describe("local API Gateway event details", () => {
  it("trace ids look like API Gateway's and never repeat across refills of the random pool", () => {
    const ids = Array.from({ length: 2_000 }, () => traceId(1_700_000_000_123));
    for (const id of ids) expect(id).toMatch(/^Root=1-6553f100-[0-9a-f]{24}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("requestContext.time is the request's second in API Gateway's format", () => {
    const first = apiGatewayEvent({ routeKey: "GET /x", method: "GET", path: "/x" });
    const { time, timeEpoch } = first.requestContext;
    const date = new Date(timeEpoch);
    const two = (n: number) => String(n).padStart(2, "0");
    const month = date.toUTCString().split(" ")[2];
    expect(time).toBe(
      `${two(date.getUTCDate())}/${month}/${date.getUTCFullYear()}:${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`,
    );
  });
});
