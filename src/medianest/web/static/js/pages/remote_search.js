// Search other sites from the downloads page: words and a site (or all), a page of results with thumbnail,
// title, channel, duration, views and date; tick one or several and queue them with the mode and quality
// chosen in the download form above. "Preview" hands one result's link to that form. When a site fails,
// the API says so (meta.notice) and the other site's results stand in: the notice is shown above them.
import { api } from "../api.js";
import { clear, errorText, fmtDuration, h, toast } from "../ui.js";

const LIMIT = 12;
const SITES = { "": "All sites", youtube: "YouTube", dailymotion: "Dailymotion" };

// `form`: the download form's {choice(), previewUrl(url)}; `list`: the downloads list ({tick, apply}).
export function remoteSearch(form, list) {
  const s = { q: "", site: "", page: 0, hasMore: false, seq: 0, results: new Map() };  // results: url → result
  const q = h("input", { name: "q", type: "search", maxlength: 200, autocomplete: "off", placeholder: "Words to look for",
    "data-testid": "remote-q" });
  const site = h("select", { name: "site", "data-testid": "remote-site", "aria-label": "Site" },
    Object.entries(SITES).map(([v, label]) => h("option", { value: v }, label)));
  const go = h("button", { type: "submit", class: "btn", "data-testid": "remote-search" }, "Search");
  const notice = h("p", { class: "rs-notice small", role: "status", "data-testid": "remote-notice", hidden: true });
  const error = h("p", { class: "form-error", role: "alert", "data-testid": "remote-error", hidden: true });
  const box = h("ul", { class: "rs-results", "data-testid": "remote-results", "aria-label": "Search results" });
  const more = h("button", { type: "button", class: "btn ghost", hidden: true, "data-testid": "remote-more",
    onclick: () => load(false) }, "More results");
  const queue = h("button", { type: "button", class: "btn primary", disabled: true, "data-testid": "remote-queue",
    onclick: () => queuePicked() }, "Download selected");
  const bar = h("div", { class: "rs-bar", hidden: true }, h("span", { class: "spacer" }), more, queue);

  const picked = () => [...box.querySelectorAll("input[type=checkbox]:checked")].map((c) => s.results.get(c.value));
  function syncQueue() {
    const n = picked().length;
    queue.disabled = !n;
    queue.textContent = n > 1 ? `Download ${n} selected` : "Download selected";
  }
  const show = (el, text) => { el.textContent = text || ""; el.hidden = !text; };

  async function load(fresh) {
    if (fresh) {
      s.q = q.value.trim();
      s.site = site.value;
      s.page = 0;
      s.results.clear();
      clear(box);
      show(notice, "");
      if (!s.q) { show(error, "Type some words to search for."); bar.hidden = true; return; }
    }
    show(error, "");
    const mine = ++s.seq;
    go.disabled = more.disabled = true;
    try {
      const params = { q: s.q, page: s.page + 1, limit: LIMIT, ...(s.site ? { site: s.site } : {}) };
      const r = await api.get("/search/remote", params);
      if (mine !== s.seq) return;
      s.page++;
      s.hasMore = r.meta.has_more && s.page < 10;
      r.data.filter((it) => !s.results.has(it.url)).forEach((it) => {
        s.results.set(it.url, it);
        box.append(resultRow(it, syncQueue, form));
      });
      show(notice, r.meta.notice);
      if (!s.results.size) box.append(h("li", { class: "muted rs-none" }, "Nothing found."));
    } catch (err) {
      if (mine === s.seq) show(error, errorText(err));
    } finally {
      if (mine === s.seq) {
        go.disabled = more.disabled = false;
        more.hidden = !s.hasMore;
        bar.hidden = !s.results.size;
        syncQueue();
      }
    }
  }

  async function queuePicked() {
    const items = picked();
    queue.disabled = true;
    let done = 0;
    for (const it of items) {  // one at a time: the server's per-user download limit answers each in turn
      try {
        const asked = list.tick();
        const dl = (await api.post("/downloads", { url: it.url, ...form.choice() })).data;
        list.apply(dl, asked, "top", it.title);
        box.querySelector(`input[value="${CSS.escape(it.url)}"]`).checked = false;
        done++;
      } catch (err) {
        toast(`“${it.title}” was not queued: ${errorText(err)}`, "error", 6000);
      }
    }
    if (done) toast(done === 1 ? "Queued 1 download" : `Queued ${done} downloads`);
    syncQueue();
  }

  const el = h("form", { class: "rs-form", role: "search", "aria-label": "Search other sites", novalidate: true,
    onsubmit: (e) => { e.preventDefault(); load(true); } },
    h("div", { class: "rs-row" },
      h("label", { class: "field rs-q" }, "Or search YouTube and Dailymotion", q),
      h("label", { class: "field" }, "Site", site), go),
    error, notice, box, bar);
  return { el, dispose: () => { s.seq++; } };
}

// Only an https thumbnail becomes an <img> (the page's CSP refuses others); anything else gets a tile.
function resultRow(it, onPick, form) {
  const thumb = typeof it.thumbnail === "string" && it.thumbnail.startsWith("https://")
    ? h("img", { class: "rs-thumb", src: it.thumbnail, alt: "", loading: "lazy", referrerpolicy: "no-referrer" })
    : h("div", { class: "rs-thumb dl-thumb-empty", "aria-hidden": "true" }, "▶");
  const id = `rs-${it.site}-${it.id}`.replace(/[^\w-]/g, "_");
  const fact = (name, text) => text ? h("li", { "data-fact": name }, text) : null;
  return h("li", { class: "rs-item", "data-testid": "remote-result", dataset: { site: it.site } },
    h("input", { type: "checkbox", value: it.url, id, "data-testid": "remote-pick", onchange: onPick }),
    h("label", { for: id, class: "rs-pick" }, thumb,
      h("span", { class: "rs-body" },
        h("span", { class: "rs-title" }, it.title),
        h("ul", { class: "dl-facts muted small" },
          fact("site", h("span", { class: "badge" }, SITES[it.site] || it.site)),
          fact("channel", it.channel),
          fact("duration", it.duration_s ? fmtDuration(it.duration_s) : null),
          fact("views", typeof it.views === "number" ? views(it.views) : null),
          fact("date", day(it.published_at))))),
    h("button", { type: "button", class: "btn ghost dl-btn", "data-testid": "remote-preview",
      "aria-describedby": id, onclick: () => form.previewUrl(it.url) }, "Preview"));
}

function views(n) {
  const text = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 }).format(n);
  return `${text} view${n === 1 ? "" : "s"}`;
}

function day(iso) {
  const d = iso ? new Date(iso) : null;
  return d && !isNaN(d) ? d.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" }) : null;
}
