// Requests: search movies and shows at Seerr, request them, and follow "My requests" (an admin sees
// everyone's). Status changes arrive as request:updated in the user's own room.
import { api, currentUser, isAdmin } from "../api.js";
import * as socket from "../socket.js";
import { clear, dialog, empty, errorView, fmtAgo, fmtDate, h, setTitle, showError, toast } from "../ui.js";

const AVAILABILITY = {
  available: ["Available", "ok"], partially_available: ["Partly available", "warn"], processing: ["Processing", "accent"],
  requested: ["Requested", "accent"], not_requested: ["Not requested", ""],
};
const STATUS = {
  pending: ["Pending approval", "warn"], approved: ["Approved", "accent"], declined: ["Declined", "danger"],
  processing: ["Processing", "accent"], available: ["Available", "ok"], failed: ["Failed", "danger"],
};
const POSTER_PATH = /^\/[A-Za-z0-9._-]+$/;  // what POST /requests accepts as poster_path
const PER_PAGE = 50;

export async function render(root, _params, query) {
  setTitle("Requests");
  const mine = myRequests();
  const search = searchPanel(query.get("q") || "", (req) => mine.add(req));
  root.append(h("div", { class: "page-requests" },
    h("div", { class: "page-head" }, h("h1", {}, "Requests")),
    search.el,
    h("section", { class: "my-requests" },
      h("div", { class: "section-head" }, h("h2", {}, isAdmin() ? "All requests" : "My requests"), h("span", { class: "spacer" }), mine.filter),
      mine.el)));
  const off = socket.on("request:updated", (r) => mine.update(r));
  await Promise.all([mine.load(), search.start()]);
  return () => { off(); search.stop(); };
}

// ---------------------------------------------------------------------------------------------------
// Search

function searchPanel(initial, onRequested) {
  const input = h("input", { type: "search", name: "q", value: initial, placeholder: "Search for a movie or show",
    "aria-label": "Search Seerr", maxlength: 200, required: true, autocomplete: "off", "data-testid": "request-search" });
  const results = h("div", { class: "search-results", "data-testid": "search-results", "aria-live": "polite" });
  const notice = h("div");
  const more = h("button", { class: "btn ghost", type: "button", hidden: true }, "More results");
  let q = initial, page = 0, seq = 0, stopped = false;

  const run = async (next) => {
    const mine = ++seq;
    more.disabled = true;
    if (!next) { page = 0; clear(results, h("p", { class: "muted small" }, "Searching…")); clear(notice); }
    try {
      const r = await api.get("/requests/search", { q, page: page + 1 });
      if (mine !== seq || stopped) return;
      page = r.meta.page || page + 1;
      if (!next) clear(results);
      clear(notice, r.meta.stale ? h("p", { class: "notice tone-warn", role: "status", "data-testid": "stale-notice" },
        "Seerr is unreachable; showing saved results.") : null);
      results.append(...r.data.map((item) => resultCard(item, onRequested)));
      if (!results.childElementCount) results.append(empty(`Nothing found for “${q}”.`));
      more.hidden = !r.meta.has_more;
    } catch (err) {
      if (mine !== seq || stopped) return;
      if (next) showError(err);
      else clear(results, errorView(err, () => run(false)));
    } finally {
      if (mine === seq) more.disabled = false;
    }
  };
  more.addEventListener("click", () => run(true));
  const form = h("form", { class: "toolbar request-search", role: "search" }, input,
    h("button", { class: "btn primary", type: "submit" }, "Search"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    q = input.value.trim();
    if (!q) return;
    // Keep the search in the address, so reload and back show it again.
    history.replaceState(null, "", `#/requests?q=${encodeURIComponent(q)}`);
    run(false);
  });
  return {
    el: h("section", { class: "search-panel" }, form, notice, results, more),
    start: () => (q ? run(false) : Promise.resolve()),
    stop: () => { stopped = true; },
  };
}

// Only https or same-origin posters: the page's CSP blocks http images, and a blocked image is a
// console error.
function poster(url, cls) {
  if (typeof url === "string" && (url.startsWith("https://") || url.startsWith("/"))) {
    return h("img", { class: cls, src: url, alt: "", loading: "lazy" });
  }
  return h("div", { class: `${cls} poster-none`, "aria-hidden": "true" }, "🎬");
}

function badge(map, key, attrs = {}) {
  const [text, tone] = map[key] || [key, ""];
  return h("span", { class: `badge${tone ? " tone-" + tone : ""}`, ...attrs }, text);
}

function resultCard(item, onRequested) {
  const avail = badge(AVAILABILITY, item.availability, { "data-testid": "availability" });
  const requested = (req) => {
    if (item.availability === "not_requested") avail.replaceWith(badge(AVAILABILITY, "requested", { "data-testid": "availability" }));
    onRequested(req);
  };
  const action = h("div", { class: "result-action" }, requestButton(item, requested));
  return h("article", { class: "card result-card", "data-testid": "search-result",
    dataset: { tmdbId: String(item.tmdb_id), mediaType: item.media_type } },
  poster(item.poster_url, "poster"),
  h("div", { class: "result-body" },
    h("h3", {}, item.title, item.year ? h("span", { class: "muted" }, ` (${item.year})`) : null),
    h("div", { class: "badges" }, h("span", { class: "badge" }, item.media_type === "tv" ? "Series" : "Movie"),
      avail),
    item.overview ? h("p", { class: "overview small" }, item.overview) : null,
    action));
}

function requestButton(item, onRequested) {
  if (item.request_id) return h("span", { class: "muted small" }, "You have requested this.");
  if (item.availability === "available") return h("span", { class: "muted small" }, "Already in the library.");
  const btn = h("button", { class: "btn primary", type: "button", "data-testid": "request-button" },
    item.availability === "partially_available" ? "Request more" : "Request");
  btn.addEventListener("click", async () => {
    const made = await requestTitle(item, btn);
    if (!made) return;
    item.request_id = made.id;
    btn.replaceWith(h("span", { class: "muted small", role: "status" }, "Requested."));
    onRequested(made);
  });
  return btn;
}

async function requestTitle(item, btn) {
  const body = { media_type: item.media_type, tmdb_id: item.tmdb_id, title: item.title };
  if (item.year) body.year = item.year;
  if (item.poster_path && POSTER_PATH.test(item.poster_path)) body.poster_path = item.poster_path;
  if (item.media_type === "tv") {
    const seasons = await askSeasons(item.title);
    if (seasons === null) return null;
    if (seasons.length) body.seasons = seasons;  // omitted: every season
  }
  btn.disabled = true;
  try {
    const made = (await api.post("/requests", body)).data;
    toast(`Requested ${item.title}.`, "success");
    return made;
  } catch (err) {
    showError(err);
    return null;
  } finally {
    btn.disabled = false;
  }
}

// null when dismissed; [] for every season; else the season numbers.
async function askSeasons(title) {
  const list = h("input", { name: "list", placeholder: "1, 2, 4-6", autocomplete: "off", "aria-label": "Seasons",
    pattern: "\\s*\\d+(\\s*-\\s*\\d+)?(\\s*,\\s*\\d+(\\s*-\\s*\\d+)?)*\\s*", title: "Season numbers, e.g. 1, 2, 4-6" });
  const all = h("input", { type: "radio", name: "which", value: "all", checked: true });
  const some = h("input", { type: "radio", name: "which", value: "some" });
  // The list is needed only under "Only these"; typing in it picks that choice.
  const sync = () => { list.required = some.checked; };
  all.addEventListener("change", sync);
  some.addEventListener("change", sync);
  list.addEventListener("input", () => { some.checked = true; sync(); });
  const body = h("div", { class: "form-grid" },
    h("label", { class: "check" }, all, "All seasons"),
    h("label", { class: "check" }, some, "Only these seasons:"), list);
  const v = await dialog(`Request ${title}`, body, { submit: "Request" });
  if (!v) return null;
  return v.which === "some" ? parseSeasons(v.list || "") : [];
}

function parseSeasons(text) {
  const out = new Set();
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const [a, b = a] = part.split("-").map((n) => Number(n.trim()));
    for (let s = Math.min(a, b); s <= Math.max(a, b) && out.size < 200; s++) out.add(s);
  }
  return [...out].sort((x, y) => x - y);
}

// ---------------------------------------------------------------------------------------------------
// My requests

function myRequests() {
  const el = h("div", { class: "request-list", "data-testid": "my-requests" });
  const more = h("button", { class: "btn ghost", type: "button", hidden: true }, "Load more");
  const filter = h("select", { "aria-label": "Status", "data-testid": "request-filter" },
    h("option", { value: "" }, "Any status"), Object.entries(STATUS).map(([k, [label]]) => h("option", { value: k }, label)));
  const rows = new Map();  // id → row element
  const names = new Map();  // user id → username (admins see everyone's requests)
  let page = 0, seq = 0;
  const list = h("div", { class: "request-rows" });

  const load = async (next = false) => {
    const mine = ++seq;
    if (!next) { page = 0; rows.clear(); }
    try {
      const r = await api.get("/requests", { page: page + 1, per_page: PER_PAGE, status: filter.value });
      if (mine !== seq) return;
      page = r.meta.page || page + 1;
      if (isAdmin() && !names.size) await fillNames(names);
      if (!next) clear(list);
      for (const req of r.data) { if (!rows.has(req.id)) list.append(remember(req)); }
      more.hidden = !r.meta.has_more;
      showEmpty();
    } catch (err) {
      if (mine !== seq) return;
      if (next) showError(err); else clear(list, errorView(err, () => load(false)));
    }
  };
  const remember = (req) => {
    const row = requestRow(req, names, () => cancel(req));
    rows.set(req.id, row);
    return row;
  };
  const showEmpty = () => {
    list.querySelector(".empty")?.remove();
    if (!rows.size) list.append(empty(filter.value ? "No requests with this status." : "Nothing requested yet. Search above to ask for a movie or show."));
  };
  const drop = (id) => { rows.get(id)?.remove(); rows.delete(id); showEmpty(); };
  const cancel = async (req) => {
    const btn = rows.get(req.id)?.querySelector("[data-testid=cancel-request]");
    if (btn) btn.disabled = true;
    try {
      await api.del(`/requests/${encodeURIComponent(req.id)}`);
      toast(`Request for ${req.title} canceled.`, "success");
      drop(req.id);
    } catch (err) {
      showError(err);
      if (btn) btn.disabled = false;
    }
  };
  const matches = (req) => !filter.value || req.status === filter.value;
  filter.addEventListener("change", () => load(false));
  more.addEventListener("click", () => load(true));
  el.append(list, more);
  return {
    el, filter, load,
    add(req) {
      if (!matches(req) || rows.has(req.id)) return;
      list.querySelector(".empty")?.remove();
      list.prepend(remember(req));
    },
    // request:updated carries the whole request, or {id, status: "canceled"} once it is withdrawn.
    update(req) {
      if (!req?.id) return;
      if (req.status === "canceled" || (rows.has(req.id) && !matches(req))) { drop(req.id); return; }
      if (!req.title) return;  // not a full request: nothing to draw
      const old = rows.get(req.id);
      if (!old) { this.add(req); return; }
      const row = remember(req);
      old.replaceWith(row);
    },
  };
}

async function fillNames(names) {
  try {
    for (let page = 1; page <= 10; page++) {
      const r = await api.get("/users", { page, per_page: 100 });
      r.data.forEach((u) => names.set(u.id, u.username));
      if (!r.meta?.has_more) break;
    }
  } catch { /* the rows then say "another user" */ }
}

function requestRow(req, names, onCancel) {
  const own = req.user_id === currentUser()?.id;
  const who = own ? null : names.get(req.user_id) || "another user";
  const seasons = req.media_type === "tv" ? (req.seasons?.length ? `season${req.seasons.length > 1 ? "s" : ""} ${req.seasons.join(", ")}` : "all seasons") : null;
  return h("article", { class: "card request-row", "data-testid": "request-row", dataset: { id: req.id, status: req.status } },
    poster(req.poster_url, "poster small-poster"),
    h("div", { class: "result-body" },
      h("h3", {}, req.title, req.year ? h("span", { class: "muted" }, ` (${req.year})`) : null),
      h("div", { class: "badges" }, h("span", { class: "badge" }, req.media_type === "tv" ? "Series" : "Movie"),
        badge(STATUS, req.status, { "data-testid": "request-status" })),
      h("p", { class: "muted small" }, [seasons, who ? `by ${who}` : null,
        h("span", { title: fmtDate(req.created_at) }, `requested ${fmtAgo(req.created_at)}`)].filter(Boolean)
        .flatMap((x, i) => (i ? [" · ", x] : [x]))),
      req.error ? h("p", { class: "small form-error" }, req.error) : null),
    req.status === "pending" ? h("button", { class: "btn ghost", type: "button", "data-testid": "cancel-request",
      onclick: onCancel }, "Cancel") : null);
}
