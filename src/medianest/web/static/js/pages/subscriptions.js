// Subscriptions: follow a channel, a playlist or a podcast feed with a rule; each row says what its checks
// found (entries by state), when it was checked and will be next, and why its last check failed. "Check
// now" queues a check and the row follows it by polling until `checking` is over and `checked_at` moved
// (a check sends no event of its own). What a check queues is an ordinary download: it shows, with its
// live progress, on the downloads page; the strip at the top counts those running from socket events.
import { api } from "../api.js";
import { icon } from "../icons.js";
import * as socket from "../socket.js";
import { ruleForm, ruleSummary } from "./subscription_form.js";
import { clear, confirm, dialog, empty, errorView, fmtAgo, fmtDate, h, setTitle, showError, toast } from "../ui.js";

const PER_PAGE = 100;
const TICK_MS = 2000;        // a feed's check takes a second or two: a waiting row asks this often at first,
const FAST_FOR_MS = 120000;  // ...for two minutes; then (a consumer that is down, a channel of thousands)
const SLOW_MS = 15000;       // only this often, so a forgotten tab does not hammer the server
const REFRESH_MS = 60000;    // the whole list, quietly: periodic checks and the "ago" texts move on
const KINDS = { channel: "Channel", playlist: "Playlist", feed: "Podcast" };
const KIND_ICONS = { channel: "film", playlist: "playlist", feed: "podcast" };
// Entries by state, in the order they are told; "queued" stays so until the next check reads how the
// download ended, hence "sent to downloads" rather than "downloading".
const STATES = [["done", "downloaded"], ["queued", "sent to downloads"], ["seen", "noted, not downloaded"],
  ["skipped", "left out by the rule"], ["failed", "failed"], ["pruned", "removed by the rule"]];
const DOWNLOAD_EVENTS = ["download:queued", "download:started", "download:completed", "download:failed",
  "download:canceled"];

export async function render(root) {
  setTitle("Subscriptions");
  const list = subscriptionList();
  const activity = downloadActivity();
  const add = addSection(list);
  root.append(
    h("div", { class: "page-head" }, h("h1", {}, "Subscriptions"),
      h("span", { class: "muted small" }, "New videos and episodes are downloaded on their own, by your rule.")),
    add.el, activity.el, list.el);
  const offs = DOWNLOAD_EVENTS.map((name) => socket.on(name, () => activity.refresh()));
  offs.push(socket.on("_connected", () => { activity.refresh(); list.refresh(); }));
  const ticker = setInterval(() => { if (!document.hidden) list.tick(); }, TICK_MS);
  const refresher = setInterval(() => { if (!document.hidden) list.refresh(); }, REFRESH_MS);
  activity.refresh();
  await list.reload();
  if (list.size()) add.el.open = false;  // the list is what a returning visitor came for
  return () => {
    clearInterval(ticker);
    clearInterval(refresher);
    offs.forEach((off) => off());
    list.dispose();
    activity.dispose();
  };
}

// ---------------------------------------------------------------------------------------------------
// Adding one.

function addSection(list) {
  const form = ruleForm(null, { submitLabel: "Subscribe", onSubmit: create });
  async function create(body) {
    try {
      const sub = (await api.post("/subscriptions", body)).data;
      list.added(sub);
      form.reset();
      toast(`Subscribed to “${sub.name}”. Its first check is under way.`);
    } catch (err) { form.showError(err); }
  }
  const el = h("details", { class: "sub-add", open: true, "data-testid": "sub-add-section" },
    h("summary", {}, "Add a subscription"), form.el);
  return { el };
}

// ---------------------------------------------------------------------------------------------------
// The downloads a check queued run on the downloads page; here, how many run now, kept current by events.

function downloadActivity() {
  const st = { seq: 0, timer: null };
  const text = h("span", { "data-testid": "sub-activity-text" });
  const el = h("p", { class: "sub-activity small", role: "status", "data-testid": "sub-activity", hidden: true },
    text, " ", h("a", { href: "#/downloads" }, "Follow them on the Downloads page"));
  async function load() {
    const mine = ++st.seq;
    try {
      const [running, queued] = await Promise.all(["running", "queued"].map((status) =>
        api.get("/downloads", { status, per_page: 1 })));
      if (mine !== st.seq) return;
      const r = running.meta.total, q = queued.meta.total;
      text.textContent = [r ? `${r} downloading` : null, q ? `${q} waiting` : null].filter(Boolean).join(", ")
        + (r + q ? "." : "");
      el.hidden = !(r + q);
    } catch { /* the strip is a hint: the next event tries again */ }
  }
  // A burst of events (a check queueing ten episodes) asks once.
  const refresh = () => { clearTimeout(st.timer); st.timer = setTimeout(load, 300); };
  return { el, refresh, dispose: () => { st.seq++; clearTimeout(st.timer); } };
}

// ---------------------------------------------------------------------------------------------------
// The list.

function subscriptionList() {
  const rows = new Map();  // id → row {el, p, sub, wait, editing}
  const st = { seq: 0, page: 0, hasMore: false, refreshing: false };
  const box = h("div", { class: "sub-list", "data-testid": "sub-list" });
  const problem = h("div", { hidden: true });
  const none = h("div", { hidden: true }, empty("You follow nothing yet. Add a channel, a playlist or a podcast feed above."));
  const more = h("button", { type: "button", class: "btn ghost", hidden: true, "data-testid": "sub-more",
    onclick: () => loadMore() }, "Load more");
  const el = h("section", { class: "sub-section", "aria-label": "Your subscriptions" }, problem, box, none,
    h("div", { class: "sub-more" }, more));
  const ops = { checkNow, toggle, edit, remove, copyFeed, newFeed };
  const showEmpty = () => { none.hidden = rows.size > 0 || !problem.hidden; };

  function put(sub, where = "end") {
    const row = rows.get(sub.id);
    if (row) { paint(row, sub, ops); return row; }
    const made = makeRow(sub, ops);
    rows.set(sub.id, made);
    if (where === "top") box.prepend(made.el); else box.append(made.el);
    // Never checked yet: its first check is queued (made here, or in another tab a moment ago).
    if (!sub.checked_at && sub.enabled) follow(made, null);
    showEmpty();
    return made;
  }

  function drop(id) {
    rows.get(id)?.el.remove();
    rows.delete(id);
    showEmpty();
  }

  async function loadMore() {
    const mine = st.seq;
    more.disabled = true;
    try {
      const r = await api.get("/subscriptions", { page: st.page + 1, per_page: PER_PAGE });
      if (mine !== st.seq) return;
      st.page++;
      st.hasMore = r.meta.has_more;
      r.data.forEach((sub) => put(sub));
    } catch (err) {
      if (mine !== st.seq) return;
      if (rows.size) showError(err);
      else { clear(problem, errorView(err, reload)); problem.hidden = false; }
    } finally {
      if (mine === st.seq) { more.hidden = !st.hasMore; more.disabled = false; showEmpty(); }
    }
  }

  function reload() {
    st.seq++;
    st.page = 0;
    rows.clear();
    clear(box);
    problem.hidden = true;
    return loadMore();
  }

  // The pages loaded so far, again: rows repainted, new ones added, deleted ones dropped.
  async function refresh() {
    if (st.refreshing || !st.page) return;
    st.refreshing = true;
    const mine = st.seq;
    try {
      const pages = [];
      for (let n = 1; n <= st.page; n++) pages.push((await api.get("/subscriptions", { page: n, per_page: PER_PAGE })).data);
      if (mine !== st.seq) return;
      const fresh = pages.flat();
      const ids = new Set(fresh.map((s) => s.id));
      [...rows.keys()].filter((id) => !ids.has(id)).forEach(drop);
      fresh.forEach((sub) => { if (!rows.has(sub.id)) put(sub, "top"); else settle(rows.get(sub.id), sub); });
    } catch { /* quiet: the next refresh tries again */ }
    finally { st.refreshing = false; }
  }

  // Wait for a check: done once the row is no longer checking and `checked_at` is not the one it had.
  function follow(row, before) {
    row.wait = { before, since: Date.now(), last: 0 };
    paint(row, row.sub, ops);
  }

  function settle(row, sub) {
    const w = row.wait;
    if (w && !sub.checking && sub.checked_at && sub.checked_at !== w.before) {
      row.wait = null;
      toast(checkedText(sub, w.before === null), sub.last_error ? "error" : "info");
    }
    paint(row, sub, ops);
  }

  // Each waiting row asks for itself: every tick for two minutes, then every SLOW_MS.
  function tick() {
    const now = Date.now();
    for (const row of rows.values()) {
      const w = row.wait;
      if (!w && !row.sub.checking) continue;
      const every = w && now - w.since > FAST_FOR_MS ? SLOW_MS : TICK_MS;
      if (row.asking || now - (w?.last || row.last || 0) < every) continue;
      if (w) w.last = now; else row.last = now;
      fetchOne(row);
    }
  }

  async function fetchOne(row) {
    row.asking = true;
    try { settle(row, (await api.get(`/subscriptions/${row.sub.id}`)).data); }
    catch (err) { if (err.status === 404) drop(row.sub.id); }
    finally { row.asking = false; }
  }

  async function act(row, btn, call, done) {
    if (btn) btn.disabled = true;
    try {
      const sub = (await call()).data;
      if (sub) paint(row, sub, ops);
      if (done) await done(sub);
    } catch (err) {
      showError(err);
      if (err.status === 404) drop(row.sub.id);
      else paint(row, row.sub, ops);  // a toggle the server refused goes back
    } finally { if (btn) btn.disabled = false; paint(row, row.sub, ops); }
  }

  function checkNow(row, btn) {
    const before = row.sub.checked_at;
    return act(row, btn, () => api.post(`/subscriptions/${row.sub.id}/check`), () => follow(row, before));
  }

  function toggle(row, input) {
    return act(row, null, () => api.patch(`/subscriptions/${row.sub.id}`, { enabled: input.checked }),
      (sub) => toast(sub.enabled ? `“${sub.name}” is checked again.` : `“${sub.name}” is paused.`));
  }

  function edit(row) {
    if (row.editing) { closeEdit(row); return; }
    const form = ruleForm(row.sub, {
      submitLabel: "Save", onCancel: () => closeEdit(row),
      onSubmit: async (body) => {
        try {
          paint(row, (await api.patch(`/subscriptions/${row.sub.id}`, body)).data, ops);
          closeEdit(row);
          toast(`Saved the rule of “${row.sub.name}”.`);
        } catch (err) {
          form.showError(err);
          if (err.status === 404) drop(row.sub.id);
        }
      },
    });
    row.editing = form;
    clear(row.p.extra, form.el);
    row.p.editBtn.setAttribute("aria-expanded", "true");
    form.el.querySelector("input, select")?.focus();
  }

  function closeEdit(row) {
    row.editing = null;
    clear(row.p.extra);
    row.p.editBtn.setAttribute("aria-expanded", "false");
    row.p.editBtn.focus();
  }

  async function remove(row, btn) {
    const ok = await confirm(`Unsubscribe from “${row.sub.name}”?`,
      "Nothing more is downloaded from it. What it downloaded stays in your library; its private feed stops working.",
      "Unsubscribe");
    if (!ok) return;
    btn.disabled = true;
    try {
      await api.del(`/subscriptions/${row.sub.id}`);
      drop(row.sub.id);
      toast(`Unsubscribed from “${row.sub.name}”.`);
    } catch (err) {
      showError(err);
      if (err.status === 404) drop(row.sub.id);
      btn.disabled = false;
    }
  }

  async function newFeed(row, btn) {
    const ok = await confirm("Make a new private feed URL?",
      "The address given out so far stops working at once: podcast apps that follow it need the new one.",
      "Make a new URL");
    if (!ok) return;
    await act(row, btn, () => api.patch(`/subscriptions/${row.sub.id}`, { new_feed_token: true }),
      (sub) => copyFeed({ sub }, null, "A new private feed URL was made and copied."));
  }

  return {
    el, reload, refresh, tick,
    added: (sub) => { problem.hidden = true; put(sub, "top"); },
    size: () => rows.size,
    dispose: () => { st.seq++; },
  };
}

// The private feed's address to the clipboard; where the browser refuses (no permission, not a secure
// context), shown in a dialog to copy by hand.
async function copyFeed(row, _btn, done = "Private feed URL copied.") {
  const url = row.sub.feed_url;
  const secret = "Keep it secret: anyone who has it can listen to what this subscription downloaded.";
  try {
    await navigator.clipboard.writeText(url);
    toast(`${done} ${secret}`, "info", 6000);
  } catch {
    const input = h("input", { readonly: true, value: url, class: "sub-feed-input", "data-testid": "sub-feed-url",
      "aria-label": "Private feed URL", onfocus: (e) => e.target.select() });
    await dialog("Private feed URL", h("div", {}, h("p", { class: "small" }, "Copy this address into a podcast app. ",
      secret), input), { submit: null, cancel: "Close" });
  }
}

// ---------------------------------------------------------------------------------------------------
// One row, built once and painted in place (a focused button keeps its focus across a poll).

function makeRow(sub, ops) {
  const titleId = `sub-title-${sub.id}`;
  const button = (label, testid, fn, cls = "btn ghost sub-btn") => h("button", { type: "button", class: cls,
    "data-testid": testid, "aria-describedby": titleId, onclick: (e) => fn(row, e.currentTarget) }, label);
  const enabled = h("input", { type: "checkbox", "data-testid": "sub-enabled", "aria-describedby": titleId,
    onchange: (e) => ops.toggle(row, e.currentTarget) });
  const p = {
    art: h("div", { class: "sub-art" }),
    name: h("span", { class: "sub-name", id: titleId, "data-testid": "sub-name" }),
    kind: h("span", { class: "badge sub-kind", "data-testid": "sub-kind" }),
    paused: h("span", { class: "badge sub-paused", "data-testid": "sub-paused" }, "paused"),
    url: h("a", { class: "sub-url small", target: "_blank", rel: "noopener noreferrer", "data-testid": "sub-url-link" }),
    rule: h("div", { class: "sub-rule small", "data-testid": "sub-rule" }),
    counts: h("div", { class: "sub-counts small", "data-testid": "sub-counts" }),
    when: h("div", { class: "sub-when small muted", "data-testid": "sub-when" }),
    error: h("p", { class: "sub-error small", role: "alert", "data-testid": "sub-last-error", hidden: true }),
    enabled,
    checkBtn: button("Check now", "sub-check", ops.checkNow, "btn sub-btn"),
    editBtn: button("Edit rule", "sub-edit", ops.edit),
    extra: h("div", { class: "sub-extra" }),
  };
  p.editBtn.setAttribute("aria-expanded", "false");
  const el = h("article", { class: "sub-row", "data-testid": "sub-row", dataset: { id: sub.id } },
    p.art,
    h("div", { class: "sub-main" },
      h("div", { class: "sub-title" }, p.name, p.kind, p.paused),
      p.url, p.rule, p.counts, p.when, p.error),
    h("div", { class: "sub-actions" },
      h("label", { class: "check sub-toggle" }, enabled, "Enabled"),
      p.checkBtn, p.editBtn,
      button("Unsubscribe", "sub-delete", ops.remove)),
    h("div", { class: "sub-feed small" },
      h("span", { class: "muted" }, "Private RSS feed for podcast apps (keep it secret):"),
      button("Copy private feed URL", "sub-copy-feed", ops.copyFeed),
      button("New feed URL", "sub-new-feed", ops.newFeed)),
    p.extra);
  const row = { el, p, sub: null, wait: null, editing: null };
  paint(row, sub, ops);
  return row;
}

function paint(row, sub) {
  const { p, el } = row;
  const first = !row.sub;
  row.sub = sub;
  el.classList.toggle("is-paused", !sub.enabled);
  el.classList.toggle("has-error", !!sub.last_error);
  if (first || p.name.textContent !== sub.name) p.name.textContent = sub.name;
  p.kind.textContent = KINDS[sub.kind] || sub.kind;
  p.paused.hidden = sub.enabled;
  if (first) clear(p.art, artOf(sub));
  p.url.textContent = sub.url;
  // Only a web address becomes a link (never javascript: or data:, whatever the API holds).
  if (/^https?:\/\//i.test(sub.url)) p.url.setAttribute("href", sub.url); else p.url.removeAttribute("href");
  p.rule.textContent = ruleSummary(sub);
  paintCounts(p.counts, sub.items || {});
  p.when.textContent = whenText(sub, row.wait);
  p.error.textContent = sub.last_error ? `Last check failed: ${sub.last_error}` : "";
  p.error.hidden = !sub.last_error;
  p.enabled.checked = sub.enabled;
  const busy = !!row.wait || sub.checking;
  p.checkBtn.textContent = busy ? "Checking…" : "Check now";
  p.checkBtn.disabled = busy;
  p.checkBtn.setAttribute("aria-busy", String(busy));
  el.dataset.checking = String(busy);
}

function paintCounts(box, items) {
  const total = Object.values(items).reduce((a, b) => a + b, 0);
  const parts = STATES.filter(([state]) => items[state]).map(([state, label]) =>
    h("span", { class: `sub-count is-${state}`, dataset: { state } }, h("strong", {}, String(items[state])), ` ${label}`));
  clear(box,
    h("span", { class: "sub-total", "data-testid": "sub-total", dataset: { total } },
      total ? `${total} ${total === 1 ? "entry" : "entries"} found` : "Nothing found yet"),
    parts.length ? ": " : null,
    parts.flatMap((el, i) => (i ? [" · ", el] : [el])));
}

function checkedText(sub, first) {
  if (sub.last_error) return `Checking “${sub.name}” failed: ${sub.last_error}`;
  if (first) {
    const queued = sub.items?.queued || 0;
    return `First check of “${sub.name}” done: ${sub.last_found} found, ${queued} sent to downloads.`;
  }
  return `Checked “${sub.name}”: ${sub.last_found ? `${sub.last_found} new` : "nothing new"}.`;
}

function whenText(sub, wait) {
  if (wait || sub.checking) return !sub.checked_at ? "First check under way…" : "Checking now…";
  const last = sub.checked_at ? `Checked ${fmtAgo(sub.checked_at)}` : "Not checked yet";
  const found = sub.checked_at && !sub.last_error ? ` (${sub.last_found ? `${sub.last_found} new` : "nothing new"})` : "";
  const next = !sub.enabled ? "paused: no automatic checks" : `next check ${inTime(sub.next_check_at)}`;
  return `${last}${found} · ${next}`;
}

function inTime(iso) {
  const s = (new Date(iso).getTime() - Date.now()) / 1000;
  if (!isFinite(s) || s < 60) return "any moment now";
  if (s < 3600) return `in ${Math.round(s / 60)} min`;
  if (s < 86400) return `in ${Math.round(s / 3600)} h`;
  return `on ${fmtDate(iso)}`;
}

// The source's picture: https only (the page's CSP refuses http images); else its kind's icon on a tile.
function artOf(sub) {
  if (typeof sub.image_url === "string" && sub.image_url.startsWith("https://")) {
    return h("img", { class: "sub-img", src: sub.image_url, alt: "", loading: "lazy", referrerpolicy: "no-referrer" });
  }
  return h("div", { class: "sub-img sub-img-empty", "aria-hidden": "true" }, icon(KIND_ICONS[sub.kind] || "download"));
}
