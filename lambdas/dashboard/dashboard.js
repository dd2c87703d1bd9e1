// @ts-check
/**
 * The live sale dashboard. No framework and no dependency: it polls the
 * stats endpoint once a second and draws the numbers and two SVG charts.
 * Every number comes from the server (GET /admin/sales/{saleId}/stats),
 * rates and percentiles included; the page only keeps the last two minutes
 * of them to draw the charts.
 *
 * The admin token comes from the URL fragment (#token=...; a fragment never
 * reaches a server) or from the form, and is kept in sessionStorage for this
 * tab only. The fragment is cleared of it once read.
 */

/** @typedef {import("../domain/sale-stats-view.js").SaleStatsView} SaleStatsView */
/** @typedef {import("../domain/sale-stats-view.js").RecentSale} RecentSale */
/** @typedef {{ at: number, values: Record<string, number | null> }} Point */
/** @typedef {{ key: string, label: string, className: string }} Series */

const POLL_MS = 1_000;
const HIDDEN_POLL_MS = 5_000;
const SALES_REFRESH_MS = 5_000;
const CHART_SPAN_MS = 120_000;
const REQUEST_TIMEOUT_MS = 5_000;
const TOKEN_KEY = "flash-sale-dashboard-token";

/** @type {Series[]} */
const RATE_SERIES = [
  { key: "accepted", label: "Accepted", className: "s-accepted" },
  { key: "soldout", label: "Sold out", className: "s-soldout" },
  { key: "limit", label: "Limit reached", className: "s-limit" },
  { key: "ratelimited", label: "Rate limited", className: "s-ratelimited" },
  { key: "errors", label: "Errors", className: "s-errors" },
  { key: "other", label: "Other refusals", className: "s-other" },
  { key: "entries", label: "Draw entries", className: "s-entries" },
];
/** @type {Series[]} */
const LATENCY_SERIES = [
  { key: "p50", label: "p50", className: "s-p50" },
  { key: "p99", label: "p99", className: "s-p99" },
];

const numberFormat = new Intl.NumberFormat();
const rateFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from the page`);
  return element;
}

const ui = {
  saleSelect: /** @type {HTMLSelectElement} */ (byId("sale")),
  connection: byId("connection"),
  authForm: /** @type {HTMLFormElement} */ (byId("auth")),
  tokenInput: /** @type {HTMLInputElement} */ (byId("token")),
  authError: byId("auth-error"),
  updated: /** @type {HTMLTimeElement} */ (byId("updated")),
};

const state = {
  token: "",
  /** The sale the operator picked; "" follows the newest sale. */
  pinnedSale: "",
  /** The sale currently shown. */
  saleId: "",
  /** @type {RecentSale[]} */
  sales: [],
  salesFetchedAt: 0,
  /** @type {Point[]} */
  rates: [],
  /** @type {Point[]} */
  latency: [],
  lastUpdateMs: 0,
};

// ---------------------------------------------------------------- token and URL

function readFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("token");
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  state.token = sessionStorage.getItem(TOKEN_KEY) ?? "";
  state.pinnedSale = fragment.get("sale") ?? "";
  writeFragment();
}

/** Keeps the chosen sale in the address (shareable), never the token. */
function writeFragment() {
  const fragment = state.pinnedSale ? `#sale=${encodeURIComponent(state.pinnedSale)}` : "";
  history.replaceState(null, "", `${location.pathname}${location.search}${fragment}`);
}

/** @param {string} message */
function askForToken(message) {
  state.token = "";
  sessionStorage.removeItem(TOKEN_KEY);
  ui.authError.textContent = message;
  ui.authForm.hidden = false;
  setConnection("error", "Waiting for an admin token");
  ui.tokenInput.focus();
}

ui.authForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const token = ui.tokenInput.value.trim().replace(/^Bearer\s+/i, "");
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  state.token = token;
  ui.tokenInput.value = "";
  ui.authError.textContent = "";
  ui.authForm.hidden = true;
  state.salesFetchedAt = 0;
  wake();
});

byId("pause-toggle").addEventListener("click", (event) => {
  const button = /** @type {HTMLButtonElement} */ (event.currentTarget);
  void sendControls({ paused: button.dataset.paused !== "true" }, button);
});

byId("close-now").addEventListener("click", (event) => {
  const button = /** @type {HTMLButtonElement} */ (event.currentTarget);
  // Closing cannot be undone from here: ask first.
  if (!confirm(`Close sale ${state.saleId} now? It cannot be reopened from the dashboard.`)) return;
  void sendControls({ closeNow: true }, button);
});

byId("limit-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ (byId("limit-input"));
  void sendControls({ perUserLimit: Number(input.value) }, byId("limit-set"));
});

byId("rate-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const burst = /** @type {HTMLInputElement} */ (byId("rate-burst"));
  const perSecond = /** @type {HTMLInputElement} */ (byId("rate-per-second"));
  void sendControls(
    { rateLimit: { burst: Number(burst.value), perSecond: Number(perSecond.value) } },
    byId("rate-set"),
  );
});

ui.saleSelect.addEventListener("change", () => {
  state.pinnedSale = ui.saleSelect.value;
  writeFragment();
  wake();
});

// ---------------------------------------------------------------- HTTP

class HttpFailure extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * GET a JSON resource of the API, relative to this page (so a stage prefix works).
 * @param {string} path
 * @returns {Promise<unknown>}
 */
async function getJson(path) {
  const response = await fetch(new URL(path, document.baseURI), {
    headers: { authorization: `Bearer ${state.token}`, accept: "application/json" },
    cache: "no-store",
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body?.error?.message ?? `HTTP ${response.status}`;
    throw new HttpFailure(response.status, message);
  }
  return body;
}

/**
 * POST operator controls for the shown sale (admin token), then poll at once.
 * The server refuses a bad value with a 400 and changes nothing; its message is shown.
 * @param {{ paused?: boolean, closeNow?: true, perUserLimit?: number, rateLimit?: { burst: number, perSecond: number } }} controls
 * @param {HTMLElement} button
 */
async function sendControls(controls, button) {
  const saleId = state.saleId;
  if (!saleId) return;
  const control = /** @type {HTMLButtonElement} */ (button);
  control.disabled = true;
  setText("control-error", "");
  try {
    const response = await fetch(
      new URL(`admin/sales/${encodeURIComponent(saleId)}/controls`, document.baseURI),
      {
        method: "POST",
        headers: { authorization: `Bearer ${state.token}`, "content-type": "application/json" },
        body: JSON.stringify(controls),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      },
    );
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      setText("control-error", body?.error?.message ?? `HTTP ${response.status}`);
    }
  } catch (error) {
    setText("control-error", error instanceof Error ? error.message : String(error));
  } finally {
    control.disabled = false;
    wake();
  }
}

// ---------------------------------------------------------------- polling

/** @type {(() => void) | undefined} */
let wakeUp;
function wake() {
  wakeUp?.();
}

/** @param {number} ms */
function pause(ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    wakeUp = () => {
      clearTimeout(timer);
      resolve(undefined);
    };
  });
}

async function refreshSales() {
  const body = /** @type {{ sales: RecentSale[] }} */ (await getJson("admin/sales?limit=50"));
  state.sales = body.sales;
  state.salesFetchedAt = Date.now();
  renderSaleOptions();
}

async function tick() {
  if (!state.token) return;
  try {
    const salesDue = Date.now() - state.salesFetchedAt > (state.saleId ? SALES_REFRESH_MS : 0);
    if (salesDue) await refreshSales();
    const saleId = state.pinnedSale || state.sales[0]?.id || "";
    if (!saleId) {
      setConnection("waiting", "No sale yet: waiting for one to be created");
      return;
    }
    if (saleId !== state.saleId) {
      state.saleId = saleId;
      state.rates = [];
      state.latency = [];
    }
    const view = /** @type {SaleStatsView} */ (
      await getJson(`admin/sales/${encodeURIComponent(saleId)}/stats`)
    );
    if (view.saleId !== state.saleId) return;
    render(view);
    state.lastUpdateMs = Date.now();
    setConnection("live", `Live: ${view.saleId}`);
    setStale(false);
  } catch (error) {
    if (error instanceof HttpFailure && error.status === 401) {
      askForToken("The token was refused (expired or not valid here). Paste a new one.");
    } else if (error instanceof HttpFailure && error.status === 403) {
      askForToken("This token has no admin scope.");
    } else if (error instanceof HttpFailure && error.status === 404 && state.pinnedSale) {
      setConnection("error", `Sale ${state.pinnedSale} does not exist`);
    } else {
      const reason = error instanceof Error ? error.message : String(error);
      const age = state.lastUpdateMs
        ? `; last update ${Math.round((Date.now() - state.lastUpdateMs) / 1000)} s ago`
        : "";
      setConnection("error", `Reconnecting (${reason})${age}`);
      setStale(true);
    }
  }
}

async function run() {
  readFragment();
  if (!state.token) askForToken("");
  for (;;) {
    const started = performance.now();
    await tick();
    const every = document.hidden ? HIDDEN_POLL_MS : POLL_MS;
    await pause(state.token ? Math.max(0, every - (performance.now() - started)) : 60_000);
  }
}

// ---------------------------------------------------------------- rendering

/**
 * @param {"live" | "waiting" | "error"} kind
 * @param {string} text
 */
function setConnection(kind, text) {
  ui.connection.dataset.state = kind;
  if (ui.connection.textContent !== text) ui.connection.textContent = text;
}

/** @param {boolean} stale */
function setStale(stale) {
  for (const card of document.querySelectorAll("main .card")) {
    /** @type {HTMLElement} */ (card).dataset.stale = String(stale);
  }
}

/**
 * Sets an element's text only when it changed (keeps aria-live quiet otherwise).
 * @param {string} id
 * @param {string} text
 */
function setText(id, text) {
  const element = byId(id);
  if (element.textContent !== text) element.textContent = text;
}

/** @param {number | null | undefined} n */
const count = (n) => (n === null || n === undefined ? "–" : numberFormat.format(n));
/** @param {number | null | undefined} n */
const rate = (n) => (n === null || n === undefined ? "–" : rateFormat.format(n));
/** @param {number | null | undefined} ms */
const millis = (ms) => (ms === null || ms === undefined ? "–" : `${rateFormat.format(ms)} ms`);

/** @param {string} status */
const statusLabel = (status) =>
  ({ open: "open", sold_out: "sold out", ended: "ended", scheduled: "scheduled" })[status] ??
  status;

function renderSaleOptions() {
  const select = ui.saleSelect;
  const wanted = [
    ["", "Newest sale (follows new sales)"],
    ...state.sales.map((sale) => [
      sale.id,
      `${sale.id} · ${sale.name} · ${sale.remaining}/${sale.stock} left`,
    ]),
  ];
  if (state.pinnedSale && !state.sales.some((sale) => sale.id === state.pinnedSale)) {
    wanted.push([state.pinnedSale, state.pinnedSale]);
  }
  const current = [...select.options].map((option) => [option.value, option.text]);
  if (JSON.stringify(current) !== JSON.stringify(wanted)) {
    select.replaceChildren(
      ...wanted.map(([value, text]) => new Option(text, value, false, value === state.pinnedSale)),
    );
  }
  select.value = state.pinnedSale;
}

/**
 * Shows the current setting in an input, unless the operator is typing in it.
 * @param {string} id
 * @param {string} value
 */
function fillIfIdle(id, value) {
  const input = /** @type {HTMLInputElement} */ (byId(id));
  if (document.activeElement !== input) input.value = value;
}

/** @param {SaleStatsView} view */
function render(view) {
  const remaining = byId("remaining");
  setText("remaining", count(view.remaining));
  remaining.dataset.zero = String(view.remaining <= 0);
  remaining.style.setProperty("--chars", String(Math.max(3, remaining.textContent?.length ?? 3)));
  setText("sold", count(view.sold));
  setText("stock", count(view.stock));
  setText("sale-name", `${view.name} (${view.saleId})`);
  const status = byId("status");
  setText("status", view.paused ? "paused" : statusLabel(view.status));
  status.dataset.status = view.paused ? "paused" : view.status;
  const toggle = /** @type {HTMLButtonElement} */ (byId("pause-toggle"));
  toggle.disabled = false;
  toggle.textContent = view.paused ? "Resume buying" : "Pause buying";
  toggle.dataset.paused = String(view.paused === true);
  const ended = view.status === "ended";
  /** @type {HTMLButtonElement} */ (byId("close-now")).disabled = ended;
  /** @type {HTMLButtonElement} */ (byId("limit-set")).disabled = false;
  /** @type {HTMLButtonElement} */ (byId("rate-set")).disabled = false;
  setText("per-user-limit", count(view.perUserLimit));
  setText(
    "rate-setting",
    view.rateLimit.burst === 0
      ? "off"
      : `burst ${count(view.rateLimit.burst)}, ${rateFormat.format(view.rateLimit.perSecond)}/s`,
  );
  setText("ends-at", view.endsAt ? new Date(view.endsAt).toLocaleString() : "never");
  fillIfIdle("limit-input", String(view.perUserLimit));
  fillIfIdle("rate-burst", String(view.rateLimit.burst));
  fillIfIdle("rate-per-second", String(view.rateLimit.perSecond));
  setProgress("sold-progress", view.sold, view.stock);

  const r = view.rates;
  const other = r
    ? r.refused.INSUFFICIENT_STOCK + r.refused.SALE_NOT_OPEN + r.refused.SALE_ENDED
    : null;
  const errors = r ? Object.values(r.errors).reduce((sum, n) => sum + n, 0) : null;
  setText("rate-accepted", rate(r?.accepted));
  setText("rate-soldout", rate(r?.refused.SOLD_OUT));
  setText("rate-limit", rate(r?.refused.LIMIT_REACHED));
  setText("rate-ratelimited", rate(r?.rateLimited));
  setText("rate-errors", rate(errors));
  setText("rate-other", rate(other));

  setText("lat-p50", millis(view.latency.window?.p50Ms));
  setText("lat-p99", millis(view.latency.window?.p99Ms));
  setText("lat-total-p50", millis(view.latency.total?.p50Ms));
  setText("lat-total-p99", millis(view.latency.total?.p99Ms));

  const orders = view.orders;
  setText("persisted-units", count(orders.persistedUnits));
  setText("sold-units", count(orders.soldUnits));
  setText("persisted-rows", count(orders.persistedRows));
  setText("in-flight", count(orders.inFlightUnits));
  setText("rate-persisted", rate(r?.persistedUnits));
  setProgress("persisted-progress", orders.persistedUnits ?? 0, orders.soldUnits);

  const holds = view.holds;
  byId("holds-card").hidden = holds === null;
  if (holds !== null) {
    setText("holds-held", count(holds.held));
    setText("holds-paid", count(holds.paid));
    setText("holds-expired", count(holds.expiredUnits));
    setText("holds-window", `Units, this sale; buyers have ${holds.holdSeconds} s to pay.`);
  }

  const draw = view.draw;
  byId("draw-card").hidden = draw === null;
  if (draw !== null) {
    setText("draw-state", draw.state);
    setText("draw-entries", count(draw.entries));
    setText("draw-rate", rate(draw.entriesPerSecond));
    setText("draw-winners", count(draw.winners));
    setText("draw-alternates", count(draw.alternates));
    setText("draw-passed", count(draw.passedOver));
    setText(
      "draw-close",
      `Entries close ${draw.entriesCloseAt ? new Date(draw.entriesCloseAt).toLocaleTimeString() : "–"}; paid and expired units under Payment holds.`,
    );
  }

  setText("queue-orders", count(view.queues?.orders));
  setText("queue-dlq", count(view.queues?.dlq));
  byId("dlq-figure").dataset.alert = String((view.queues?.dlq ?? 0) > 0);

  renderTotals(view);

  const at = Date.parse(view.at);
  ui.updated.dateTime = view.at;
  ui.updated.textContent = new Date(at).toLocaleTimeString();
  if (r) {
    push(state.rates, {
      at,
      values: {
        accepted: r.accepted,
        soldout: r.refused.SOLD_OUT,
        limit: r.refused.LIMIT_REACHED,
        ratelimited: r.rateLimited,
        errors,
        other,
        entries: view.draw?.entriesPerSecond ?? 0,
      },
    });
    push(state.latency, {
      at,
      values: {
        p50: view.latency.window?.p50Ms ?? null,
        p99: view.latency.window?.p99Ms ?? null,
      },
    });
  }
  drawChart(byId("chart-rates"), state.rates, RATE_SERIES, at, "/s");
  drawChart(byId("chart-latency"), state.latency, LATENCY_SERIES, at, " ms");
}

/**
 * @param {string} id
 * @param {number} value
 * @param {number} max
 */
function setProgress(id, value, max) {
  const bar = /** @type {HTMLProgressElement} */ (byId(id));
  bar.max = Math.max(1, max);
  bar.value = Math.min(bar.max, Math.max(0, value));
}

/** @param {SaleStatsView} view */
function renderTotals(view) {
  const t = view.totals;
  const errors = Object.entries(t.errors).map(([code, n]) => [`Errors: ${code}`, n]);
  const rows = [
    ["All buy requests", t.requests],
    [
      "Accepted (units reserved)",
      `${numberFormat.format(t.accepted)} (${numberFormat.format(t.units)})`,
    ],
    ["Refused: sold out", t.refused.SOLD_OUT],
    ["Refused: limit reached", t.refused.LIMIT_REACHED],
    ["Refused: not enough stock", t.refused.INSUFFICIENT_STOCK],
    ["Refused: not open yet", t.refused.SALE_NOT_OPEN],
    ["Refused: ended", t.refused.SALE_ENDED],
    ["Rate limited", t.rateLimited],
    ["Idempotent replays", t.replayed],
    ...errors,
  ];
  const body = byId("totals");
  const key = JSON.stringify(rows);
  if (body.dataset.rendered === key) return;
  body.dataset.rendered = key;
  body.replaceChildren(
    ...rows.map(([label, n]) => {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = String(label);
      const td = document.createElement("td");
      td.textContent = typeof n === "number" ? numberFormat.format(n) : String(n);
      td.dataset.outcome = String(label);
      tr.append(th, td);
      return tr;
    }),
  );
}

/**
 * @param {Point[]} points
 * @param {Point} point
 */
function push(points, point) {
  if (points.length > 0 && (points.at(-1)?.at ?? 0) >= point.at) return;
  points.push(point);
  while (points.length > 0 && point.at - (points[0]?.at ?? 0) > CHART_SPAN_MS) points.shift();
}

// ---------------------------------------------------------------- SVG charts

const SVG_NS = "http://www.w3.org/2000/svg";
const CHART = { width: 340, height: 150, left: 34, right: 4, top: 8, bottom: 20 };

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attributes
 * @param {string} [text]
 */
function svg(tag, attributes, text) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** A round axis maximum at or above `value`: 1, 2, 2.5, 5 x 10^n. */
/** @param {number} value */
function niceMax(value) {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((m) => m * magnitude >= value) ?? 10;
  return step * magnitude;
}

/**
 * Lines over the last two minutes, one per series, with a labelled y axis.
 * @param {HTMLElement} chart
 * @param {Point[]} points
 * @param {Series[]} series
 * @param {number} nowMs
 * @param {string} unit
 */
function drawChart(chart, points, series, nowMs, unit) {
  const { width, height, left, right, top, bottom } = CHART;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const values = points.flatMap((p) => series.map((s) => p.values[s.key] ?? 0));
  const max = niceMax(Math.max(0, ...values));
  const x = (/** @type {number} */ at) => left + plotW * (1 - (nowMs - at) / CHART_SPAN_MS);
  const y = (/** @type {number} */ v) => top + plotH * (1 - v / max);

  const children = [];
  for (const fraction of [0, 0.5, 1]) {
    const v = max * fraction;
    children.push(svg("line", { class: "grid", x1: left, x2: width - right, y1: y(v), y2: y(v) }));
    children.push(
      svg(
        "text",
        { class: "axis", x: left - 5, y: y(v) + 4, "text-anchor": "end" },
        rateFormat.format(v),
      ),
    );
  }
  for (const [label, ago] of [
    ["−2 min", CHART_SPAN_MS],
    ["−1 min", CHART_SPAN_MS / 2],
    ["now", 0],
  ]) {
    const anchor = ago === CHART_SPAN_MS ? "start" : ago === 0 ? "end" : "middle";
    children.push(
      svg(
        "text",
        { class: "axis", x: x(nowMs - Number(ago)), y: height - 4, "text-anchor": anchor },
        String(label),
      ),
    );
  }
  for (const s of series) {
    // A gap (null) breaks the line rather than drawing it down to zero.
    const runs = [];
    let run = [];
    for (const point of points) {
      const v = point.values[s.key];
      if (v === null || v === undefined) {
        if (run.length) runs.push(run);
        run = [];
      } else run.push(`${x(point.at).toFixed(1)},${y(v).toFixed(1)}`);
    }
    if (run.length) runs.push(run);
    for (const r of runs) {
      const attributes = { class: `series ${s.className}`, points: r.join(" ") };
      if (r.length === 1) {
        const [cx, cy] = (r[0] ?? "0,0").split(",");
        children.push(
          svg("circle", { class: `series ${s.className}`, cx: cx ?? 0, cy: cy ?? 0, r: 2 }),
        );
      } else children.push(svg("polyline", attributes));
    }
  }
  chart.replaceChildren(...children);

  const latest = points.at(-1);
  const summary = latest
    ? series
        .map((s) => `${s.label} ${rateFormat.format(latest.values[s.key] ?? 0)}${unit}`)
        .join(", ")
    : "no data yet";
  chart.setAttribute("aria-label", `Last two minutes; latest: ${summary}`);
}

run();
