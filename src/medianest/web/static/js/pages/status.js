// The status board: one card per watched service (and per Uptime Kuma monitor), live.
// status:update (room "status") arrives only when a status changes, so the board is also re-read every
// minute for fresh response times, and on every socket reconnect for changes missed while away.
import { api, isAdmin } from "../api.js";
import * as socket from "../socket.js";
import { clear, empty, errorView, fmtAgo, fmtDate, h, setTitle } from "../ui.js";

const REFRESH_MS = 60_000;
const TICK_MS = 30_000;  // re-render "checked 2 min ago"
const LABEL = { up: "Up", degraded: "Degraded", down: "Down", unknown: "Unknown" };
const KIND = { plex: "Plex", seerr: "Seerr", uptime_kuma: "Uptime Kuma", opensubtitles: "OpenSubtitles",
  google_tts: "Google TTS", generic_http: "HTTP", uptime_kuma_monitor: "Kuma monitor" };

export async function render(root) {
  setTitle("Status");
  const entries = new Map();  // id → board entry, in the server's order
  const summary = h("span", { class: "muted small", "data-testid": "status-summary" });
  const board = h("div", { class: "status-board", "data-testid": "status-board", "aria-live": "polite" });
  let stopped = false;

  const draw = () => {
    const list = [...entries.values()];
    summary.textContent = summarize(list);
    if (!list.length) { clear(board, emptyBoard()); return; }
    const grouped = groups(list);
    // Connections carry no group; they get a heading only when Kuma groups follow them.
    clear(board, grouped.map(([name, items]) => h("section", { class: "status-group" },
      name || grouped.length > 1 ? h("h2", {}, name || "Connections") : null,
      h("div", { class: "status-grid" }, items.map(card)))));
  };
  const load = async () => {
    try {
      const data = (await api.get("/services/status")).data;
      if (stopped) return;
      entries.clear();
      data.forEach((e) => entries.set(e.id, e));
      draw();
    } catch (err) {
      if (!stopped) clear(board, errorView(err, load));
    }
  };

  root.append(h("div", { class: "page-status" },
    h("div", { class: "page-head" }, h("h1", {}, "Status"), summary), board));

  const unsubscribe = socket.subscribe("status");
  const offUpdate = socket.on("status:update", (entry) => {
    if (!entry?.id) return;
    entries.set(entry.id, { ...entries.get(entry.id), ...entry });  // a new id (a new monitor) goes at the end
    draw();
  });
  const offConnected = socket.on("_connected", () => load());
  const refresh = setInterval(load, REFRESH_MS);
  const tick = setInterval(() => { if (entries.size) draw(); }, TICK_MS);
  await load();
  return () => {
    stopped = true;
    clearInterval(refresh);
    clearInterval(tick);
    offUpdate();
    offConnected();
    unsubscribe();
  };
}

// Connections first (no group), then each Kuma status page group, as the server ordered them.
function groups(list) {
  const out = new Map();
  for (const e of list) {
    const key = e.group || "";
    if (!out.has(key)) out.set(key, []);
    out.get(key).push(e);
  }
  return [...out.entries()].sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : 0));
}

function summarize(list) {
  if (!list.length) return "";
  const down = list.filter((e) => e.status === "down").length;
  const degraded = list.filter((e) => e.status === "degraded").length;
  if (!down && !degraded) return list.every((e) => e.status === "up") ? "Everything is up" : `${list.length} watched`;
  return [down ? `${down} down` : "", degraded ? `${degraded} degraded` : ""].filter(Boolean).join(" · ");
}

function emptyBoard() {
  return empty("No services are being watched yet.",
    isAdmin() ? h("a", { class: "btn primary", href: "#/admin/services" }, "Add a connection")
      : h("p", { class: "muted small" }, "An administrator can add the services to watch."));
}

function card(e) {
  const status = LABEL[e.status] ? e.status : "unknown";
  return h("article", { class: `card status-card status-${status}`, "data-testid": "status-card",
    dataset: { id: e.id, status } },
  h("div", { class: "status-head" },
    h("span", { class: `dot dot-${status}`, "aria-hidden": "true" }),
    h("h3", {}, e.name),
    h("span", { class: "spacer" }),
    h("span", { class: `status-word tone-text-${status}`, "data-testid": "status-word" }, LABEL[status])),
  h("p", { class: "muted small" }, KIND[e.kind] || e.kind,
    e.response_ms !== null && e.response_ms !== undefined ? ` · ${Math.round(e.response_ms)} ms` : "",
    " · ", h("span", { title: fmtDate(e.checked_at) || null }, e.checked_at ? `checked ${fmtAgo(e.checked_at)}` : "not checked yet")),
  h("dl", { class: "uptime" },
    h("div", {}, h("dt", {}, "24 h"), h("dd", { "data-testid": "uptime-24h" }, pct(e.uptime_24h))),
    h("div", {}, h("dt", {}, "7 days"), h("dd", { "data-testid": "uptime-7d" }, pct(e.uptime_7d)))));
}

// Uptime is a fraction (0..1) or null without checks. Rounded down, so 99.96 % never shows as 100 %.
function pct(v) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  const p = Math.floor(v * 1000) / 10;
  return `${Number.isInteger(p) ? p : p.toFixed(1)} %`;
}
