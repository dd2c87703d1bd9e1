// The SQS server (fauxqs) as sqs-server.ts runs it. fauxqs's own CLI and startFauxqs()
// listen on 0.0.0.0, which would put the queues on every network of the machine; this
// builds the same app with the package's buildApp() and listens on loopback only.
//
//   FAUXQS_PORT=<port> [FAUXQS_DATA_DIR=<dir>] node local/services/fauxqs-launcher.mjs
//
// With FAUXQS_DATA_DIR, queues and messages (visible, delayed and in flight, with their
// receive counts and visibility deadlines) live in fauxqs 2's SQLite store in that folder,
// committed before any answer that depends on them is sent (group commit, below), and come
// back on the next start: what startFauxqs({
// dataDir }) does, wired here by hand because startFauxqs cannot bind 127.0.0.1.
// fauxqs exports neither the stores nor the persistence manager, so they are imported
// from its dist folder; package.json pins fauxqs to ~2.4 for that reason, and this
// fails at start, naming what moved, if an upgrade changes them.
//
// Plain JavaScript so it starts without a TypeScript loader.
import { buildApp } from "fauxqs";

const port = Number(process.env.FAUXQS_PORT);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write("fauxqs-launcher: FAUXQS_PORT must be a port number\n");
  process.exit(2);
}
const dataDir = process.env.FAUXQS_DATA_DIR || undefined;

async function internal(path, name) {
  const url = new URL(path, import.meta.resolve("fauxqs"));
  const module = await import(url.href).catch(() => ({}));
  if (typeof module[name] !== "function") {
    throw new Error(`fauxqs-launcher: fauxqs no longer has ${name} in ${path}; check its upgrade`);
  }
  return module[name];
}

const SqsStore = await internal("./sqs/sqsStore.js", "SqsStore");
keepTraceHeaders(SqsStore, await internal("./sqs/sqsRouter.js", "SqsRouter"));
const stores = {
  sqsStore: new SqsStore(),
  snsStore: new (await internal("./sns/snsStore.js", "SnsStore"))(),
  s3Store: new (await internal("./s3/s3Store.js", "S3Store"))(),
};
let persistence;
if (dataDir) {
  const PersistenceManager = await internal("./persistence.js", "PersistenceManager");
  persistence = new PersistenceManager(dataDir);
  keepReceiveCountWhenReady(persistence);
  // WAL (fauxqs's choice) with synchronous=NORMAL: a commit is in the WAL file, in the OS's
  // page cache, before fauxqs answers, so a kill of any process (SIGKILL, the fault tests)
  // loses nothing it answered; only an OS crash or a power cut can lose the last commits,
  // which SQLite still recovers consistently. FULL synced the disk at every commit and
  // halved the local drain (2,561 → 4,922 orders/s in bench:consumer, same run).
  // FAUXQS_SYNCHRONOUS=FULL restores it.
  const synchronous = process.env.FAUXQS_SYNCHRONOUS === "FULL" ? "FULL" : "NORMAL";
  persistence.db.exec(`PRAGMA synchronous = ${synchronous}`);
  // As startFauxqs does: load first, then attach, so loading writes nothing back.
  persistence.load(stores.sqsStore, stores.snsStore, stores.s3Store);
  stores.sqsStore.persistence = persistence;
  stores.snsStore.persistence = persistence;
  stores.s3Store.persistence = persistence;
  for (const queue of stores.sqsStore.allQueues()) queue.persistence = persistence;
  groupCommits(persistence);
}

// fauxqs 2.4's updateMessageReady (ChangeMessageVisibility to 0) writes NULL into the
// NOT NULL approximate_receive_count column: the statement throws after the store has
// already taken the message out of flight and before it is queued again, so the message
// vanished from memory and the client got a 500 (the local event source lost the orders it
// handed back when stopping; any client's ChangeMessageVisibility(0) did the same). The
// message becomes ready again keeping its receive count, as SQS does.
function keepReceiveCountWhenReady(manager) {
  if (typeof manager.updateMessageReady !== "function") {
    throw new Error("fauxqs-launcher: fauxqs no longer has updateMessageReady; check its upgrade");
  }
  const ready = manager.db.prepare(
    "UPDATE sqs_messages SET receipt_handle = NULL, visibility_deadline = NULL WHERE message_id = ?",
  );
  manager.updateMessageReady = (messageId) => {
    ready.run(messageId);
  };
}

// fauxqs 2.4 drops the AWSTraceHeader message system attribute, which SQS keeps with the
// message and hands to the consumer (ReceiveMessage with AttributeNames All or
// AWSTraceHeader; Lambda's records carry it), so the buy's X-Ray trace joins its
// persistence. Here the messages a send creates (synchronously, inside the router's handle)
// are caught as created and given the header of their entry; a receive adds it back.
// Kept in memory only: a message that outlives a restart of a persistent server comes
// back without its header (the trace is lost, never the message).
function keepTraceHeaders(Store, Router) {
  let created = null;
  const create = Store.createMessage;
  Store.createMessage = function (...args) {
    const message = create.apply(this, args);
    created?.push(message);
    return message;
  };
  const handle = Router.prototype.handle;
  const headerOf = (entry) => entry?.MessageSystemAttributes?.AWSTraceHeader?.StringValue;
  Router.prototype.handle = async function (request, reply) {
    const action = String(request.headers["x-amz-target"] ?? "").replace("AmazonSQS.", "");
    const body = request.body ?? {};
    if (action === "SendMessage" || action === "SendMessageBatch") {
      created = [];
      const handled = handle.call(this, request, reply);
      const messages = created;
      created = null;
      const result = await handled;
      const byId = new Map(messages.map((message) => [message.messageId, message]));
      const sent =
        action === "SendMessage"
          ? [[result?.MessageId, headerOf(body)]]
          : (result?.Successful ?? []).map((ok) => [
              ok.MessageId,
              headerOf((body.Entries ?? []).find((entry) => entry.Id === ok.Id)),
            ]);
      for (const [messageId, header] of sent) {
        const message = byId.get(messageId);
        if (message && typeof header === "string") message.awsTraceHeader = header;
      }
      return result;
    }
    const result = await handle.call(this, request, reply);
    if (action === "ReceiveMessage" && result?.Messages) {
      const names = [...(body.AttributeNames ?? []), ...(body.MessageSystemAttributeNames ?? [])];
      if (names.includes("All") || names.includes("AWSTraceHeader")) {
        const queue = this.store.getQueue(body.QueueUrl);
        for (const received of result.Messages) {
          const header = queue?.inflightMessages.get(received.ReceiptHandle)?.message
            .awsTraceHeader;
          if (header) received.Attributes = { ...received.Attributes, AWSTraceHeader: header };
        }
      }
    }
    return result;
  };
}

// Group commit. fauxqs writes each change in a transaction of its own, and SQLite syncs the
// disk at every commit: a ReceiveMessage or DeleteMessageBatch of ten messages cost ten
// syncs, which bounded the local drain. Here the writes of one event-loop turn share one
// transaction, committed before any response leaves (the onSend hook below) and at the
// latest at the end of the turn (setImmediate, for writes no request made: visibility
// timeouts ending). So whatever fauxqs has answered is committed before the answer is
// sent, as before; only what nobody was told about yet can be lost to a kill.
let pending = false;
function commitPending() {
  if (!pending) return;
  pending = false;
  persistence.db.exec("COMMIT");
}
function groupCommits(manager) {
  const { db } = manager;
  const begin = () => {
    if (pending) return;
    db.exec("BEGIN");
    pending = true;
    setImmediate(commitPending);
  };
  const skip = new Set(["constructor", "prepareStatements", "transaction", "close", "readBody"]);
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(manager))) {
    const original = manager[name];
    if (skip.has(name) || name.startsWith("load") || typeof original !== "function") continue;
    manager[name] = function (...args) {
      begin();
      return original.apply(this, args);
    };
  }
  // fauxqs's own multi-statement transactions become savepoints of the group.
  manager.transaction = (fn) => {
    begin();
    db.exec("SAVEPOINT fauxqs");
    try {
      fn();
      db.exec("RELEASE fauxqs");
    } catch (error) {
      db.exec("ROLLBACK TO fauxqs");
      db.exec("RELEASE fauxqs");
      throw error;
    }
  };
}

// Request logging only when asked for (FAUXQS_LOGGER=true): at a sale's rate it costs real CPU.
const app = buildApp({ logger: process.env.FAUXQS_LOGGER === "true", stores });
if (persistence) {
  app.addHook("onSend", async (_request, _reply, payload) => {
    commitPending();
    return payload;
  });
  app.addHook("preClose", () => {
    commitPending();
    persistence.close();
  });
}
const address = await app.listen({ port, host: "127.0.0.1" });
process.stdout.write(
  `fauxqs listening on ${address}${dataDir ? `, queues kept in ${dataDir}` : ", queues in memory"}\n`,
);

let closing = false;
async function close(code) {
  if (closing) return;
  closing = true;
  await app.close().catch(() => {});
  process.exit(code);
}
process.on("SIGTERM", () => void close(0));
process.on("SIGINT", () => void close(0));
// Never outlive the process that started us: when it dies we are re-parented.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void close(1);
}, 500).unref();
