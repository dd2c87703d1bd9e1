import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpLambda } from "../../local/http-host.js";
import { bundledAwsApp } from "../cdk/support/apps.js";
import { admin, buyEvent, invoke, uniqueSaleId } from "../support/fixtures.js";
import { testSqs } from "../support/sqs.js";

/**
 * The artifacts `cdk deploy` uploads, run against real Redis and SQS: the
 * esbuild bundles of the stack (ESM, require shim, Lua scripts inlined through
 * `define`, the AWS SDK resolved outside the bundle as the Lambda runtime
 * provides it). The bundles live under cdk.out/, where no lua/ folder is
 * reachable, so a script that was not inlined would fail the cold start.
 */
let outdir: string;
const handlers = new Map<string, HttpLambda>();
const sqs = testSqs();

beforeAll(async () => {
  const synth = bundledAwsApp({ jwtIssuer: "https://issuer.test/" });
  outdir = synth.outdir;
  for (const name of ["buy", "get-sale", "upsert-sale"]) {
    const dir = synth.bundles.get(name);
    if (!dir) throw new Error(`no bundle for ${name}`);
    const module = (await import(join(dir, "index.mjs"))) as { handler: HttpLambda };
    handlers.set(name, module.handler);
  }
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const handler = (name: string): HttpLambda => {
  const found = handlers.get(name);
  if (!found) throw new Error(`${name} not loaded`);
  return found;
};

describe("bundled handlers", () => {
  it("create a sale, accept a buy, queue the order and show the stock that is left", async () => {
    const saleId = uniqueSaleId("bundle");
    const created = await invoke(handler("upsert-sale"), {
      routeKey: "POST /sales",
      method: "POST",
      path: "/sales",
      body: JSON.stringify({ id: saleId, name: "Bundled", stock: 3, perUserLimit: 1 }),
      claims: admin(),
    });
    expect(created.status).toBe(201);

    const bought = await invoke(
      handler("buy"),
      buyEvent(saleId, "bundle-buyer", JSON.stringify({ quantity: 1 })),
    );
    expect(bought.status).toBe(202);
    const { orderId } = bought.body as { orderId: string };

    const sale = await invoke(handler("get-sale"), {
      routeKey: "GET /sales/{saleId}",
      method: "GET",
      path: `/sales/${saleId}`,
      pathParameters: { saleId },
    });
    expect(sale).toMatchObject({ status: 200, body: { id: saleId, remaining: 2, sold: 1 } });

    const queued = (await sqs.receiveAll()) as { orderId: string }[];
    expect(queued.map((message) => message.orderId)).toContain(orderId);
  });
});
