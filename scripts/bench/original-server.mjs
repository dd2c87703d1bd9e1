/**
 * The ORIGINAL system's design, rebuilt faithfully as a benchmark reference
 * (../shared/seed-notes.md): one Express 5 process with `cors` and
 * `express.json()`, a node-redis v5 client, and per POST /buy one `EVAL` of
 * the five-line stock script on the single key `iphone_stock` (the whole
 * script sent every call), then, on success, one SQS `SendMessage` with
 * @aws-sdk/client-sqs; plain-text `200 Order Queued...` / `400 Fail: Sold Out`
 * / `500 Server Error`. No identity check: userId comes from the body.
 *
 * The only local adaptations: it listens on a free port of 127.0.0.1 (not
 * 3003), the SQS client sends to fauxqs's endpoint (useQueueUrlAsEndpoint off,
 * as `*.localhost` queue hosts do not resolve here) and it reports ready over
 * IPC to the bench that forked it.
 *
 *   REDIS_URL=... SQS_ENDPOINT=... ORIGINAL_QUEUE_URL=... node scripts/bench/original-server.mjs
 *
 * Plain JavaScript, as the original.
 */
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import cors from "cors";
import express from "express";
import { createClient } from "redis";

const STOCK_KEY = process.env.ORIGINAL_STOCK_KEY || "iphone_stock";
const script = `
local stock = tonumber(redis.call("GET", KEYS[1]))
if stock > 0 then
  redis.call("DECR", KEYS[1])
  return 1
end
return 0
`;

const client = createClient({ url: process.env.REDIS_URL });
client.on("error", (error) => process.stderr.write(`Redis Client Error ${error}\n`));
await client.connect();

const sqs = new SQSClient({
  region: process.env.AWS_REGION || "us-east-1",
  endpoint: process.env.SQS_ENDPOINT,
  useQueueUrlAsEndpoint: false,
  credentials: { accessKeyId: "local", secretAccessKey: "local" },
});
const queueUrl = process.env.ORIGINAL_QUEUE_URL;

const app = express();
app.use(cors());
app.use(express.json());

app.post("/buy", async (req, res) => {
  const { userId } = req.body;
  try {
    const result = await client.eval(script, { keys: [STOCK_KEY] });
    if (result === 1) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify({ userId, productId: "iphone_16", timestamp: Date.now() }),
        }),
      );
      res.status(200).send("Order Queued...");
    } else {
      res.status(400).send("Fail: Sold Out");
    }
  } catch {
    res.status(500).send("Server Error");
  }
});

app.post("/reset-stock/:count", async (req, res) => {
  await client.set(STOCK_KEY, req.params.count);
  res.send(`Stock reset to ${req.params.count}`);
});

app.get("/stock", async (_req, res) => {
  const stock = await client.get(STOCK_KEY);
  res.json({ stock });
});

const server = app.listen(0, "127.0.0.1", () => {
  const ready = {
    type: "ready",
    url: `http://127.0.0.1:${server.address().port}`,
    pid: process.pid,
  };
  if (process.send) process.send(ready);
  else process.stdout.write(`${JSON.stringify(ready)}\n`);
});

const stop = () => {
  server.close();
  server.closeAllConnections();
  void client.quit().catch(() => {});
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.on("message", (message) => {
  if (message?.type === "stop") stop();
});
process.on("disconnect", stop);
