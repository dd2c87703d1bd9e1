import { randomUUID } from "node:crypto";
import { dirname, join } from "node:path";
import { outcomeOf } from "../local/api-outcome.js";
import { identitySource } from "./identity.js";
import { appendAccepted, startRun } from "./run-record.js";

/**
 * The artillery processor of race.yml, sustained.yml and spike.yml (artillery
 * bundles this TypeScript with esbuild into loadtest/dist/ at each run).
 *
 * - setupSale (the `before` hook, once per run, in artillery's main thread):
 *   creates the sale through the API (POST /sales with an admin token), or
 *   uses SALE_ID as it is when CREATE_SALE=false; records the run for the
 *   verifier in loadtest/.runs/<saleId>/.
 * - assignBuyer (first step of every virtual user): its own buyer and token
 *   (see identity.ts) and its own Idempotency-Key.
 * - recordBuy (after the buy): counts the outcome by code and appends every
 *   202 to accepted.ndjson: the API's refusals as flashsale.refused.<CODE>,
 *   API Gateway's own (`{"message"}`: throttle, token, size) as
 *   flashsale.gateway.<MESSAGE>, anything else as flashsale.unexpected.<status>.
 * - newIdempotencyKey (greedy buyers of sustained.yml): the next buy is a new purchase.
 * - checkReplay (after the replay of an accepted buy with the same key): the
 *   order id must be the original one, or the virtual user fails.
 *
 * Environment: SALE_ID, CREATE_SALE=false, STOCK, PER_USER_LIMIT,
 * LOADTEST_RUNS_DIR, and the identity variables of identity.ts.
 */

interface Vars {
  target?: string;
  $scenarioFile?: string;
  scenarioName?: string;
  stock?: number | string;
  perUserLimit?: number | string;
  saleId?: string;
  runDir?: string;
  token?: string;
  userId?: string;
  tokenIndex?: number;
  idempotencyKey?: string;
  quantity?: number;
  orderId?: string;
  [name: string]: unknown;
}
interface Context {
  vars: Vars;
}
interface Events {
  emit(event: "counter", name: string, value: number): void;
}
interface Response {
  statusCode: number;
  body: unknown;
}

const identities = identitySource();

function integer(name: string, fallback: unknown): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be an integer`);
  return value;
}

function bodyOf(response: Response): { orderId?: string; error?: { code?: string } } {
  if (typeof response.body === "object" && response.body !== null) return response.body;
  try {
    return JSON.parse(String(response.body));
  } catch {
    return {};
  }
}

export async function setupSale(context: Context): Promise<void> {
  const target = String(context.vars.target ?? "").replace(/\/$/, "");
  if (!target)
    throw new Error("no target: pass --target <url> (or TARGET_URL to npm run loadtest:*)");
  const scenario = String(context.vars.scenarioName ?? "run");
  const stamp = new Date()
    .toISOString()
    .replace(/[-:.TZ]/g, "")
    .slice(0, 14);
  const saleId = process.env.SALE_ID || `lt-${scenario}-${stamp}-${randomUUID().slice(0, 4)}`;
  let stock = integer("STOCK", context.vars.stock);
  let perUserLimit = integer("PER_USER_LIMIT", context.vars.perUserLimit);
  const createSale = process.env.CREATE_SALE !== "false";

  if (createSale) {
    const admin = identities.admin();
    if (!admin)
      throw new Error("creating the sale needs ADMIN_TOKEN (a token with the admin scope)");
    const reply = await fetch(`${target}/sales`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ id: saleId, name: `load test ${scenario}`, stock, perUserLimit }),
    });
    if (reply.status !== 201 && reply.status !== 200)
      throw new Error(`POST /sales answered ${reply.status}: ${await reply.text()}`);
  } else {
    const reply = await fetch(`${target}/sales/${encodeURIComponent(saleId)}`);
    if (reply.status !== 200) throw new Error(`GET /sales/${saleId} answered ${reply.status}`);
    const sale = (await reply.json()) as { stock: number; perUserLimit: number };
    stock = sale.stock;
    perUserLimit = sale.perUserLimit;
  }

  const scenarioFile = context.vars.$scenarioFile;
  const runsDir =
    process.env.LOADTEST_RUNS_DIR ||
    (scenarioFile ? join(dirname(scenarioFile), ".runs") : join(process.cwd(), ".runs"));
  const run = startRun(runsDir, {
    scenario,
    target,
    saleId,
    stock,
    perUserLimit,
    identity: identities.mode,
    createdSale: createSale,
    startedAt: new Date().toISOString(),
  });
  context.vars.saleId = saleId;
  context.vars.runDir = run.runDir;
  console.log(
    `sale ${saleId}: stock ${stock}, ${perUserLimit} per buyer, ${createSale ? "created" : "existing"}; buyers: ${identities.mode === "tokens" ? "pre-issued tokens" : "locally signed tokens"}; run recorded in ${run.runDir}`,
  );
}

export async function assignBuyer(context: Context): Promise<void> {
  const buyer = identities.next();
  context.vars.userId = buyer.userId;
  context.vars.token = buyer.token;
  context.vars.tokenIndex = buyer.tokenIndex;
  context.vars.idempotencyKey = randomUUID();
  context.vars.quantity = 1;
  context.vars.orderId = undefined;
}

/** A new Idempotency-Key for the same buyer: the next buy is a new purchase, not a replay. */
export async function newIdempotencyKey(context: Context): Promise<void> {
  context.vars.idempotencyKey = randomUUID();
}

export async function recordBuy(
  _request: unknown,
  response: Response,
  context: Context,
  events: Events,
): Promise<void> {
  const body = bodyOf(response);
  if (response.statusCode === 202 && body.orderId) {
    context.vars.orderId = body.orderId;
    events.emit("counter", "flashsale.accepted", 1);
    if (context.vars.runDir)
      appendAccepted(context.vars.runDir, {
        orderId: body.orderId,
        userId: String(context.vars.userId),
        quantity: Number(context.vars.quantity ?? 1),
        ...(context.vars.tokenIndex === undefined ? {} : { tokenIndex: context.vars.tokenIndex }),
      });
  } else {
    const outcome = outcomeOf(response.statusCode, response.body);
    if (outcome.layer === "api") events.emit("counter", `flashsale.refused.${outcome.code}`, 1);
    else if (outcome.layer === "gateway")
      events.emit("counter", `flashsale.gateway.${outcome.code}`, 1);
    else events.emit("counter", `flashsale.unexpected.${response.statusCode}`, 1);
  }
}

export async function checkReplay(
  _request: unknown,
  response: Response,
  context: Context,
  events: Events,
): Promise<void> {
  const replayed = bodyOf(response).orderId;
  if (response.statusCode === 202 && replayed === context.vars.orderId) {
    events.emit("counter", "flashsale.replay.same_order", 1);
    return;
  }
  events.emit("counter", "flashsale.replay.mismatch", 1);
  throw new Error(
    `replay with the same Idempotency-Key answered ${response.statusCode} ${replayed ?? ""}, expected 202 ${context.vars.orderId}`,
  );
}
