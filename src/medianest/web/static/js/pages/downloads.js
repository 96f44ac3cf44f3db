// Downloads: paste a link, preview what it holds (title, channel, qualities, a playlist's entries), pick
// video or audio, and watch the queue move live. Socket events update the rows in place; because events
// can be lost across a reconnect, a 5-second poll runs while anything is queued or running.
import { api } from "../api.js";
import * as media from "../media.js";
import * as player from "../player.js";
import * as socket from "../socket.js";
import { remoteSearch } from "./remote_search.js";
import { speechForm } from "./speech.js";
import { clear, empty, errorText, errorView, fmtAgo, fmtBytes, fmtDuration, h, setTitle, showError, toast } from "../ui.js";

const PER_PAGE = 50;
const POLL_MS = 5000;
const MAX_OPEN_ITEMS = 100;  // a 5000-entry playlist should not fire 5000 requests when opened
const QUALITIES = ["best", "2160p", "1440p", "1080p", "720p", "480p", "360p"];
const QUALITY_LABELS = { best: "Best available", "2160p": "2160p (4K)", "1440p": "1440p (2K)" };
const AUDIO_FORMATS = ["mp3", "m4a", "opus", "flac"];
const ACTIVE = new Set(["queued", "running"]);
const RETRYABLE = new Set(["failed", "canceled"]);
const PREFS = "medianest.downloads.prefs";
// Tabs and the API statuses behind each ("active" is two statuses, asked for side by side).
const FILTERS = {
  all: { label: "All", statuses: [null], none: "No downloads yet. Paste a link above to fetch a video or its audio." },
  active: { label: "Active", statuses: ["running", "queued"], none: "Nothing is downloading right now." },
  completed: { label: "Completed", statuses: ["completed"], none: "No completed downloads." },
  failed: { label: "Failed", statuses: ["failed"], none: "No failed downloads." },
};
const EVENTS = ["download:queued", "download:started", "download:progress", "download:completed",
  "download:failed", "download:canceled"];

export async function render(root, _params, query) {
  setTitle("Downloads");
  const filter = FILTERS[query.get("status")] ? query.get("status") : "all";
  const list = downloadList(filter);
  const form = downloadForm(list);
  const search = remoteSearch(form, list);
  const speech = speechForm(list);
  const clearBtn = h("button", { type: "button", class: "btn ghost", "data-testid": "download-clear",
    onclick: () => clearFinished(list, clearBtn) }, "Clear finished");
  root.append(
    h("div", { class: "page-head" }, h("h1", {}, "Downloads"), h("span", { class: "spacer" }), clearBtn),
    form.el,
    search.el,
    speech.el,
    filterTabs(filter, list),
    list.el);

  const offs = EVENTS.map((name) => socket.on(name, (payload) => list.onEvent(name, payload)));
  offs.push(socket.on("_connected", () => list.poll()));  // after a reconnect: catch up on missed events
  const timer = setInterval(() => { if (!document.hidden && list.anyActive()) list.poll(); }, POLL_MS);
  await list.reload();
  return () => {
    clearInterval(timer);
    offs.forEach((off) => off());
    list.dispose();
    form.dispose();
    search.dispose();
    speech.dispose();
  };
}

async function clearFinished(list, btn) {
  btn.disabled = true;
  try {
    const { removed } = (await api.del("/downloads")).data;
    toast(removed ? `Removed ${removed} finished download${removed === 1 ? "" : "s"} from the list` : "Nothing to clear");
    await list.reload();
  } catch (err) { showError(err); }
  finally { btn.disabled = false; }
}

function filterTabs(current, list) {
  const mark = (b, on) => { b.classList.toggle("on", on); b.setAttribute("aria-pressed", String(on)); };
  const buttons = Object.entries(FILTERS).map(([key, f]) => h("button", { type: "button",
    class: key === current ? "on" : null, "aria-pressed": String(key === current),
    "data-testid": `download-filter-${key}`, dataset: { filter: key },
    onclick: () => {
      buttons.forEach((b) => mark(b, b.dataset.filter === key));
      // Kept in the address so a reload shows the same tab; replaceState fires no hashchange.
      history.replaceState(null, "", key === "all" ? "#/downloads" : `#/downloads?status=${key}`);
      list.setFilter(key);
    } }, f.label));
  return h("div", { class: "tabs dl-tabs", role: "group", "aria-label": "Show downloads" }, buttons);
}

// ---------------------------------------------------------------------------------------------------
// The form: link, preview, mode and format, download.

function loadPrefs() {
  try { return { mode: "video", quality: "best", audio_format: "mp3", ...JSON.parse(localStorage.getItem(PREFS) || "{}") }; }
  catch { return { mode: "video", quality: "best", audio_format: "mp3" }; }
}

function checkUrl(value) {
  if (!value) return "Paste a link first.";
  if (!/^https?:\/\/\S+$/i.test(value)) return "That does not look like a web link: it should start with https://";
  return null;
}

// A guess used before (or without) a preview: the usual ways sites spell a playlist link.
const looksLikePlaylist = (url) => /[?&]list=|\/playlist|\/sets\/|\/album\//i.test(url);

function options(select, values, labels, wanted) {
  clear(select, values.map((v) => h("option", { value: v }, labels[v] || v)));
  select.value = values.includes(wanted) ? wanted : values[0];
}

function downloadForm(list) {
  const prefs = loadPrefs();
  const s = { preview: null, seq: 0 };  // preview: {url, data} of the link as typed when looked up
  const url = h("input", { name: "url", type: "url", inputmode: "url", autocomplete: "off", spellcheck: "false",
    placeholder: "https://www.youtube.com/watch?v=…", "data-testid": "download-url" });
  const previewBtn = h("button", { type: "button", class: "btn", disabled: true, "data-testid": "download-preview" }, "Preview");
  const startBtn = h("button", { type: "submit", class: "btn primary", disabled: true, "data-testid": "download-start" }, "Download");
  const modes = ["video", "audio"].map((m) => h("input", { type: "radio", name: "mode", value: m, checked: m === prefs.mode }));
  const quality = h("select", { name: "quality", "data-testid": "download-quality" });
  const format = h("select", { name: "audio_format", "data-testid": "download-format" });
  const limit = h("input", { name: "playlist_limit", type: "number", min: 1, max: 5000, step: 1, inputmode: "numeric",
    placeholder: "all", class: "dl-limit", "data-testid": "download-limit" });
  const qualityField = h("label", { class: "field" }, "Quality", quality);
  const formatField = h("label", { class: "field" }, "Format", format);
  const limitField = h("label", { class: "field", hidden: true }, "At most (entries)", limit);
  const error = h("p", { class: "form-error", role: "alert", "data-testid": "form-error", hidden: true });
  const previewBox = h("div", { class: "dl-preview", "aria-live": "polite" });
  options(quality, QUALITIES, QUALITY_LABELS, prefs.quality);
  options(format, AUDIO_FORMATS, {}, prefs.audio_format);

  const mode = () => modes.find((m) => m.checked)?.value || "video";
  const setError = (text) => { error.textContent = text || ""; error.hidden = !text; };
  function sync() {
    const typed = url.value.trim();
    previewBtn.disabled = startBtn.disabled = !typed;
    qualityField.hidden = mode() !== "video";
    formatField.hidden = mode() !== "audio";
    limitField.hidden = !(s.preview ? s.preview.data.is_playlist : looksLikePlaylist(typed));
  }
  function forgetPreview() {
    s.seq++;  // a lookup still under way is for another link now: its answer is dropped
    s.preview = null;
    clear(previewBox);
    options(quality, QUALITIES, QUALITY_LABELS, quality.value);
    options(format, AUDIO_FORMATS, {}, format.value);
  }

  async function preview() {
    const value = url.value.trim();
    const bad = checkUrl(value);
    if (bad) { setError(bad); url.focus(); return; }
    setError("");
    forgetPreview();
    const mine = s.seq;
    previewBtn.disabled = true;
    clear(previewBox, h("p", { class: "dl-looking muted", role: "status", "data-testid": "download-looking" }, "Looking up…"));
    try {
      const data = (await api.get("/downloads/preview", { url: value })).data;
      if (mine !== s.seq) return;
      s.preview = { url: value, data };
      clear(previewBox, previewCard(data));
      fillChoices(data);
    } catch (err) {
      if (mine !== s.seq) return;
      clear(previewBox);
      setError(errorText(err));
    } finally {
      if (mine === s.seq) sync();
    }
  }

  function fillChoices(p) {
    // A playlist (flat, no formats) or a site that lists none: offer every quality; the server picks
    // the nearest lower one that exists.
    const q = p.qualities?.length > 1 && !p.is_playlist ? p.qualities : QUALITIES;
    options(quality, q, QUALITY_LABELS, quality.value);
    options(format, p.audio_formats?.length ? p.audio_formats : AUDIO_FORMATS, {}, format.value);
    if (p.is_playlist && p.entries?.length) limit.placeholder = `all ${p.entries.length}`;
  }

  function body(value) {
    const out = { url: value, mode: mode() };
    if (out.mode === "video") out.quality = quality.value;
    else out.audio_format = format.value;
    const n = limit.value.trim();
    if (!limitField.hidden && n) {
      if (!/^\d+$/.test(n) || +n < 1 || +n > 5000) throw new Error("“At most” takes a whole number from 1 to 5000.");
      out.playlist_limit = +n;
    }
    return out;
  }

  async function start(e) {
    e.preventDefault();
    const value = url.value.trim();
    const bad = checkUrl(value);
    if (bad) { setError(bad); url.focus(); return; }
    setError("");
    startBtn.disabled = true;
    try {
      const payload = body(value);
      localStorage.setItem(PREFS, JSON.stringify({ mode: payload.mode, quality: quality.value, audio_format: format.value }));
      const hint = s.preview?.url === value ? s.preview.data.title : null;
      const asked = list.tick();
      const dl = (await api.post("/downloads", payload)).data;
      list.apply(dl, asked, "top", hint);
      toast(`Queued “${dl.title || hint || value}”`);
      url.value = "";
      limit.value = "";
      forgetPreview();
    } catch (err) {
      setError(errorText(err));
    } finally {
      sync();
    }
  }

  url.addEventListener("input", () => {
    if (s.preview && s.preview.url !== url.value.trim()) forgetPreview();
    setError("");
    sync();
  });
  previewBtn.addEventListener("click", preview);
  modes.forEach((m) => m.addEventListener("change", sync));

  const el = h("form", { class: "dl-form", novalidate: true, "aria-label": "New download", onsubmit: start },
    h("div", { class: "dl-url-row" },
      h("label", { class: "field dl-url" }, "Link to a video, song or playlist", url), previewBtn),
    h("div", { class: "dl-options" },
      h("div", { class: "segmented dl-mode", role: "radiogroup", "aria-label": "Download as" },
        modes.map((m) => h("label", { class: "dl-mode-opt" }, m, m.value === "video" ? "Video" : "Audio only"))),
      qualityField, formatField, limitField,
      h("span", { class: "spacer" }), startBtn),
    error, previewBox);
  sync();
  // For the search below: what a picked result is queued with, and a result's link previewed here.
  const choice = () => mode() === "video" ? { mode: "video", quality: quality.value }
    : { mode: "audio", audio_format: format.value };
  function previewUrl(value) {
    url.value = value;
    forgetPreview();
    sync();
    url.scrollIntoView({ block: "center" });
    preview();
  }
  return { el, choice, previewUrl, dispose: () => { s.seq++; } };
}

// What the preview found: only an https thumbnail becomes an <img> (the CSP refuses http ones, and a
// refused image is a console error); anything else gets a placeholder tile.
function previewCard(p) {
  const thumb = typeof p.thumbnail === "string" && p.thumbnail.startsWith("https://")
    ? h("img", { class: "dl-thumb", src: p.thumbnail, alt: "", loading: "lazy", referrerpolicy: "no-referrer" })
    : h("div", { class: "dl-thumb dl-thumb-empty", "aria-hidden": "true" }, p.is_playlist ? "☰" : "▶");
  const fact = (name, text) => text ? h("li", { "data-fact": name }, text) : null;
  return h("div", { class: "dl-preview-card", "data-testid": "download-preview-card" }, thumb,
    h("div", { class: "dl-preview-body" },
      h("h2", { class: "dl-preview-title" }, p.title || p.url || "Untitled"),
      h("ul", { class: "dl-facts muted small" },
        fact("site", p.site ? h("span", { class: "badge" }, p.site) : null),
        fact("channel", p.channel),
        fact("duration", p.duration_s ? fmtDuration(p.duration_s) : null),
        fact("views", p.views !== null && p.views !== undefined ? viewsText(p.views) : null),
        fact("uploaded", dayText(p.uploaded_at) ? `Uploaded ${dayText(p.uploaded_at)}` : null)),
      p.is_playlist ? playlistPart(p.entries || []) : null));
}

function playlistPart(entries) {
  const shown = entries.slice(0, 5);
  return h("div", { class: "dl-entries" },
    h("p", { class: "small" }, h("strong", {}, `Playlist · ${entries.length} ${entries.length === 1 ? "entry" : "entries"}`)),
    shown.length ? h("ol", { class: "small" }, shown.map((e) => h("li", {}, e.title || e.url,
      e.duration_s ? h("span", { class: "muted" }, ` · ${fmtDuration(e.duration_s)}`) : null))) : null,
    entries.length > shown.length ? h("p", { class: "muted small" }, `…and ${entries.length - shown.length} more`) : null);
}

function viewsText(n) {
  const text = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 }).format(n);
  return `${text} view${n === 1 ? "" : "s"}`;
}

// "2024-01-02" is a calendar day: read as local, not UTC midnight (which shows the day before in America).
function dayText(iso) {
  if (!iso) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  const d = m ? new Date(+m[1], +m[2] - 1, +m[3]) : new Date(iso);
  return isNaN(d) ? null : d.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

// ---------------------------------------------------------------------------------------------------
// The list: pages from the API, rows kept current by events and polls.

const createdAt = (dl) => Date.parse(dl.created_at) || 0;
const newestFirst = (a, b) => createdAt(b) - createdAt(a) || Number(b.id) - Number(a.id) || 0;

function downloadList(initialFilter) {
  const rows = new Map();      // id → row {el, p, dl, hint}
  const touched = new Map();   // id → clock of its last socket update: an older response must not undo it
  const pending = new Map();   // id → "fetch again when done", so a burst of events fetches once
  const skipped = new Set();   // ids seen but not shown (another tab's filter, an unloaded page)
  const st = { filter: initialFilter, page: 0, hasMore: false, loading: null, polling: false, seq: 0, clock: 0 };
  const box = h("div", { class: "dl-list", "data-testid": "download-list" });
  const problem = h("div", { hidden: true });
  const none = h("div", { hidden: true });
  const more = h("button", { type: "button", class: "btn ghost", hidden: true, "data-testid": "download-more",
    onclick: () => loadMore() }, "Load more");
  const el = h("section", { class: "dl-section", "aria-label": "Your downloads" }, problem, box, none,
    h("div", { class: "dl-more" }, more));
  const tick = () => ++st.clock;
  const ops = { cancel, retry, remove, open };

  function showEmpty() {
    const nothing = !rows.size && st.loading === null && problem.hidden;
    if (nothing && !none.childElementCount) clear(none, empty(FILTERS[st.filter].none));
    none.hidden = !nothing;
  }

  const matches = (dl) => FILTERS[st.filter].statuses.some((s) => s === null || s === dl.status);

  // Insert or update one download. `where`: "end" (the next page), "top" (just queued here) or
  // "sorted" (news from an event or a poll: by age, skipped if it belongs to a page not loaded yet).
  function apply(dl, asked, where = "sorted", hint = null) {
    const row = rows.get(dl.id);
    if (row) {
      if ((touched.get(dl.id) || 0) > asked) return;
      paint(row, dl, ops);
      return;
    }
    if (where !== "top" && !matches(dl)) { skipped.add(dl.id); return; }
    const made = makeRow(dl, hint, ops);
    if (!place(made, where)) { skipped.add(dl.id); return; }
    skipped.delete(dl.id);
    rows.set(dl.id, made);
    showEmpty();
  }

  function place(row, where) {
    if (where === "top") { box.prepend(row.el); return true; }
    if (where === "end") { box.append(row.el); return true; }
    const before = [...box.children].find((child) => {
      const other = rows.get(child.dataset.id);
      return other && newestFirst(row.dl, other.dl) < 0;
    });
    if (before) box.insertBefore(row.el, before);
    else if (!st.hasMore) box.append(row.el);
    else return false;
    return true;
  }

  function drop(id) {
    rows.get(id)?.el.remove();
    rows.delete(id);
    showEmpty();
  }

  async function loadMore() {
    if (st.loading === st.seq) return;
    const mine = st.loading = st.seq;
    const asked = tick();
    more.disabled = true;
    try {
      const pages = await Promise.all(FILTERS[st.filter].statuses.map((status) =>
        api.get("/downloads", { status, page: st.page + 1, per_page: PER_PAGE })));
      if (mine !== st.seq) return;
      st.page++;
      st.hasMore = pages.some((r) => r.meta.has_more);
      pages.flatMap((r) => r.data).sort(newestFirst).forEach((dl) => apply(dl, asked, "end"));
    } catch (err) {
      if (mine !== st.seq) return;
      if (rows.size) showError(err);
      else { clear(problem, errorView(err, reload)); problem.hidden = false; }
    } finally {
      if (mine === st.seq) {
        st.loading = null;
        more.hidden = !st.hasMore;
        more.disabled = false;
        showEmpty();
      }
    }
  }

  function reload() {
    st.seq++;
    st.page = 0;
    st.hasMore = false;
    st.loading = null;
    rows.clear();
    touched.clear();
    skipped.clear();
    clear(box);
    clear(none);
    problem.hidden = true;
    more.hidden = true;
    return loadMore();
  }

  async function fetchOne(id) {
    if (pending.has(id)) { pending.set(id, true); return; }
    pending.set(id, false);
    const asked = tick();
    try { apply((await api.get(`/downloads/${id}`)).data, asked); }
    catch (err) { if (err.status === 404) drop(id); /* removed elsewhere; other failures: the poll retries */ }
    finally {
      const again = pending.get(id);
      pending.delete(id);
      if (again) fetchOne(id);
    }
  }

  function onEvent(name, payload) {
    if (!payload?.id) return;
    const row = rows.get(payload.id);
    if (!row) {
      // Started in another tab or by the CLI: fetch it. One known not to be shown here is fetched again
      // only when its status changes (it may match the tab now), not on each of its progress events.
      if (!(skipped.has(payload.id) && name === "download:progress")) fetchOne(payload.id);
      return;
    }
    touched.set(payload.id, tick());
    paint(row, { ...row.dl, ...payload }, ops);
    // The event does not carry media ids and items; the row's "Open" needs them.
    if (name === "download:completed") fetchOne(payload.id);
  }

  // The active downloads, two small requests whatever page they sit on; the rows that were active and
  // are no longer in those lists finished meanwhile and are fetched one by one.
  async function poll() {
    if (st.polling) return;
    st.polling = true;
    const asked = tick();
    try {
      const lists = await Promise.all(["running", "queued"].map((status) => api.get("/downloads", { status, per_page: 100 })));
      const fresh = lists.flatMap((r) => r.data);
      const seen = new Set(fresh.map((dl) => dl.id));
      fresh.forEach((dl) => apply(dl, asked));
      const gone = [...rows.values()].filter((r) => ACTIVE.has(r.dl.status) && !seen.has(r.dl.id)
        && (touched.get(r.dl.id) || 0) < asked);
      await Promise.all(gone.map((r) => fetchOne(r.dl.id)));
    } catch { /* quiet: the next tick tries again, and events may bring the news first */ }
    finally { st.polling = false; }
  }

  async function act(row, btn, call) {
    btn.disabled = true;
    const asked = tick();
    try {
      const r = await call();
      if (r.data) apply(r.data, asked);
      else drop(row.dl.id);  // 204: a finished download removed
    } catch (err) {
      showError(err);
      if (err.status === 404) drop(row.dl.id);
    } finally { btn.disabled = false; }
  }

  function cancel(row, btn) { return act(row, btn, () => api.del(`/downloads/${row.dl.id}`)); }
  function remove(row, btn) { return act(row, btn, () => api.del(`/downloads/${row.dl.id}`)); }
  function retry(row, btn) { return act(row, btn, () => api.post(`/downloads/${row.dl.id}/retry`)); }

  return {
    el, apply, tick, reload, poll, onEvent,
    anyActive: () => [...rows.values()].some((r) => ACTIVE.has(r.dl.status)),
    setFilter: (key) => { st.filter = key; reload(); },
    dispose: () => { st.seq++; },
  };
}

// ---------------------------------------------------------------------------------------------------
// One row. Built once and then updated in place, so a button keeps its focus while progress streams in.

function makeRow(dl, hint, ops) {
  const titleId = `dl-title-${dl.id}`;
  const p = {
    icon: h("div", { class: "dl-icon", "aria-hidden": "true" }),
    title: h("div", { class: "dl-title", id: titleId }),
    status: h("span", { class: "badge dl-status", "data-testid": "download-status" }),
    phase: h("span", { class: "dl-phase small", "data-testid": "download-phase" }),
    meta: h("span", { class: "muted small" }),
    bar: h("div", { class: "dl-bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100,
      "aria-labelledby": titleId, "data-testid": "download-progress" }),
    fill: h("div", { class: "dl-fill" }),
    pct: h("span", { class: "dl-pct", "data-testid": "download-percent" }),
    stats: h("span", { class: "muted" }),
    error: h("p", { class: "dl-error form-error small", "data-testid": "download-error", hidden: true }),
    actions: h("div", { class: "dl-actions" }),
    extra: h("div", { class: "dl-extra" }),
  };
  p.bar.append(p.fill);
  const el = h("article", { class: "dl-row", "data-testid": "download-row", dataset: { id: dl.id } },
    p.icon,
    h("div", { class: "dl-main" }, p.title,
      h("div", { class: "dl-line" }, p.status, p.phase, p.meta),
      p.bar,
      h("div", { class: "dl-stats small" }, p.pct, p.stats),
      p.error),
    p.actions, p.extra);
  const row = { el, p, dl: null, hint };
  paint(row, dl, ops);
  return row;
}

const percentOf = (dl) => dl.status === "completed" ? 100 : Math.max(0, Math.min(100, Number(dl.percent) || 0));

function paint(row, dl, ops) {
  const before = row.dl;
  const { p, el } = row;
  row.dl = dl;
  el.dataset.status = dl.status;
  el.className = `dl-row is-${dl.status}`;
  p.icon.textContent = dl.mode === "audio" ? "♪" : "▶";
  p.title.textContent = dl.title || row.hint || dl.url;
  p.title.title = dl.url;
  p.status.textContent = dl.status;
  p.phase.textContent = dl.status === "running" && dl.phase ? dl.phase : "";
  p.meta.textContent = metaText(dl);
  const pct = percentOf(dl);
  p.bar.dataset.percent = String(pct);
  p.bar.setAttribute("aria-valuenow", String(pct));
  p.fill.style.width = `${pct}%`;
  p.pct.textContent = `${pct.toFixed(pct % 1 ? 1 : 0)}%`;
  p.stats.textContent = statsText(dl);
  p.error.textContent = dl.status === "failed" ? dl.error || "The download failed." : "";
  p.error.hidden = !p.error.textContent;
  const changed = !before || before.status !== dl.status || (before.media_ids || []).length !== (dl.media_ids || []).length;
  if (changed) {
    renderActions(row, ops);
    if (dl.status !== "completed") clear(p.extra);
  }
}

function metaText(dl) {
  const n = dl.items?.length || 0;
  return [
    dl.mode === "audio" ? `audio · ${dl.audio_format || "mp3"}` : `video · ${dl.quality || "best"}`,
    n > 1 ? `${n} items` : null,
    dl.attempts ? `${dl.attempts} attempt${dl.attempts === 1 ? "" : "s"}` : null,
    dl.created_at ? `added ${fmtAgo(dl.created_at)}` : null,
  ].filter(Boolean).join(" · ");
}

function statsText(dl) {
  const bytes = dl.downloaded_bytes ? (dl.total_bytes ? `${fmtBytes(dl.downloaded_bytes)} of ${fmtBytes(dl.total_bytes)}`
    : fmtBytes(dl.downloaded_bytes)) : dl.total_bytes ? fmtBytes(dl.total_bytes) : null;
  const parts = {
    queued: [dl.attempts ? "waiting to try again" : "waiting for a free slot"],
    running: [bytes, dl.speed_bps ? `${fmtBytes(dl.speed_bps)}/s` : null,
      dl.eta_s !== null && dl.eta_s !== undefined ? `ETA ${fmtDuration(dl.eta_s)}` : null],
    // Once done, the last progress message's byte counts (one part of one item) would mislead: the size only.
    completed: [dl.total_bytes ? fmtBytes(dl.total_bytes) : null, dl.finished_at ? `finished ${fmtAgo(dl.finished_at)}` : null],
    failed: [dl.finished_at ? `failed ${fmtAgo(dl.finished_at)}` : null],
    canceled: [dl.finished_at ? `canceled ${fmtAgo(dl.finished_at)}` : null],
  }[dl.status] || [];
  const text = parts.filter(Boolean).join(" · ");
  return text ? ` · ${text}` : "";
}

function renderActions(row, ops) {
  const dl = row.dl;
  const ids = dl.media_ids || [];
  const button = (label, testid, fn, cls = "btn ghost dl-btn", extra = {}) => h("button", { type: "button", class: cls,
    "data-testid": testid, "aria-describedby": row.p.title.id, onclick: (e) => fn(row, e.currentTarget), ...extra }, label);
  clear(row.p.actions,
    dl.status === "completed" && ids.length
      ? button(ids.length > 1 ? `Open (${ids.length})` : "Open", "download-open", openMedia, "btn primary dl-btn",
        ids.length > 1 ? { "aria-expanded": "false" } : {}) : null,
    ACTIVE.has(dl.status) ? button("Cancel", "download-cancel", ops.cancel) : null,
    RETRYABLE.has(dl.status) ? button("Retry", "download-retry", ops.retry, "btn dl-btn") : null,
    !ACTIVE.has(dl.status) ? button("Remove", "download-remove", ops.remove) : null);
}

// "Open": one file plays (or opens the video page); several show their list under the row, each playable.
async function openMedia(row, btn) {
  const ids = row.dl.media_ids || [];
  if (ids.length > 1) return toggleItems(row, btn);
  btn.disabled = true;
  try { media.open((await api.get(`/media/${ids[0]}`)).data); }
  catch (err) { showError(err.status === 404 ? new Error("That file is no longer in the library.") : err); }
  finally { btn.disabled = false; }
}

async function toggleItems(row, btn) {
  const box = row.p.extra;
  if (box.childElementCount) { clear(box); btn.setAttribute("aria-expanded", "false"); return; }
  btn.disabled = true;
  clear(box, h("p", { class: "muted small", role: "status" }, "Loading…"));
  try {
    const ids = row.dl.media_ids.slice(0, MAX_OPEN_ITEMS);
    const items = await fetchMedia(ids);
    const lost = ids.length - items.length;  // deleted from the library since
    const cut = row.dl.media_ids.length - ids.length;
    const audios = items.filter((it) => it.kind !== "video");
    clear(box,
      h("div", { class: "dl-items-head" },
        h("span", { class: "muted small" }, `${items.length} in the library`),
        audios.length ? h("button", { type: "button", class: "btn dl-btn", onclick: () => player.play(audios) },
          audios.length === items.length ? "Play all" : `Play the ${audios.length} audio files`) : null),
      h("div", { class: "media-list dl-items" }, items.map((it) => media.row(it, items))),
      lost ? h("p", { class: "muted small" }, `${lost} no longer in the library.`) : null,
      cut ? h("p", { class: "muted small" }, `And ${cut} more: find them in the library.`) : null);
    btn.setAttribute("aria-expanded", "true");
  } catch (err) {
    clear(box, h("p", { class: "form-error small", role: "alert" }, errorText(err)));
  } finally { btn.disabled = false; }
}

// Eight at a time: enough to be quick, few enough not to trip the server's rate limit.
async function fetchMedia(ids) {
  const out = [];
  for (let i = 0; i < ids.length; i += 8) {
    const got = await Promise.allSettled(ids.slice(i, i + 8).map((id) => api.get(`/media/${id}`)));
    out.push(...got.filter((g) => g.status === "fulfilled").map((g) => g.value.data));
  }
  return out;
}
