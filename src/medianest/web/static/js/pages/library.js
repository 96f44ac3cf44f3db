// The library: grid or list, search as you type (the header's search box), filters, sort, and infinite
// scroll (50 at a time, the next page asked for as the end of the list comes into view). The filters live
// in the address (#/library?kind=audio&artist=...), so reload and back keep them.
import { api } from "../api.js";
import * as media from "../media.js";
import * as socket from "../socket.js";
import { clear, debounce, empty, errorView, h, setTitle } from "../ui.js";

const PER_PAGE = 50;
const SORTS = [["title", "Title"], ["artist", "Artist"], ["album", "Album"], ["added_at", "Date added"],
  ["uploaded_at", "Date published"], ["play_count", "Most played"], ["last_played_at", "Last played"], ["duration", "Length"]];
// Podcast episodes are items whose genre is Podcast (the feed's tags, written into each file); their shows are albums.
const PODCAST_GENRE = "Podcast";
const FILTERS = ["q", "kind", "liked", "artist", "album", "genre", "sort", "order"];

export async function render(root, _params, query) {
  const f = Object.fromEntries(FILTERS.map((k) => [k, query.get(k) || ""]));
  let view = localStorage.getItem("medianest.view") || "grid";
  let items = [], page = 0, hasMore = true, loading = false, seq = 0, total = 0;
  const search = document.querySelector("[data-testid=global-search]");
  if (search) search.value = f.q;
  const heading = f.genre === PODCAST_GENRE ? "Podcasts" : f.kind === "audio" ? "Music" : f.kind === "video" ? "Videos" : "Library";
  setTitle(heading);

  const list = h("div", { class: `media-${view}`, "data-testid": "media-list" });
  const count = h("span", { class: "muted small", "data-testid": "result-count" });
  const sentinel = h("div", { class: "sentinel" });
  const more = h("button", { class: "btn ghost", hidden: true, onclick: () => loadMore() }, "Load more");
  const select = (name, label, options, value) => h("select", { name, "aria-label": label, "data-testid": `filter-${name}` },
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
  const artist = select("artist", "Artist", [["", "All artists"]], f.artist);
  const album = select("album", "Album", [["", f.genre === PODCAST_GENRE ? "All shows" : "All albums"]], f.album);
  const kind = select("kind", "Kind", [["", "Audio and video"], ["audio", "Audio"], ["video", "Video"]], f.kind);
  const sort = select("sort", "Sort by", SORTS, f.sort || "title");
  const order = h("button", { class: "icon-btn", "data-testid": "sort-order", title: "Ascending or descending" });
  const genre = h("input", { name: "genre", placeholder: "Genre", value: f.genre, "aria-label": "Genre", class: "small-input", list: "genres" });
  const genres = h("datalist", { id: "genres" });
  const liked = h("label", { class: "check" }, h("input", { type: "checkbox", name: "liked", checked: f.liked === "true" }), "Liked");
  const viewBtn = h("button", { class: "icon-btn", "data-testid": "view-toggle" });

  const renderOrder = () => {
    const desc = (f.order || defaultOrder(f.sort)) === "desc";
    order.textContent = desc ? "↓" : "↑";
    order.setAttribute("aria-label", desc ? "Descending" : "Ascending");
  };
  const renderView = () => {
    viewBtn.textContent = view === "grid" ? "☷" : "▦";
    viewBtn.setAttribute("aria-label", view === "grid" ? "Show as list" : "Show as grid");
    list.className = `media-${view}`;
  };

  function syncAddress() {
    const q = new URLSearchParams(Object.entries(f).filter(([, v]) => v));
    history.replaceState(null, "", `#/library${q.toString() ? "?" + q : ""}`);
    window.dispatchEvent(new Event("medianest:address"));  // the menu follows Music / Videos
  }

  async function restart() {
    syncAddress();
    seq++; items = []; page = 0; hasMore = true;
    clear(list);
    await loadMore();
  }

  async function loadMore() {
    if (loading || !hasMore) return;
    loading = true;
    const mine = seq;
    try {
      const params = { page: page + 1, per_page: PER_PAGE, q: f.q.trim(), kind: f.kind, liked: f.liked, artist: f.artist,
        album: f.album, genre: f.genre.trim(), sort: f.sort, order: f.order };
      const r = await api.get("/media", params);
      if (mine !== seq) return;
      page++; total = r.meta.total; hasMore = r.meta.has_more;
      items.push(...r.data);
      list.append(...r.data.map((it) => view === "grid" ? media.card(it, items) : media.row(it, items)));
      count.textContent = `${total} item${total === 1 ? "" : "s"}`;
      for (const g of new Set(items.map((it) => it.genre).filter(Boolean))) {
        if (![...genres.options].some((o) => o.value === g)) genres.append(h("option", { value: g }));
      }
      if (!items.length) list.append(empty(anyFilter(f) ? "Nothing matches these filters." :
        "Your library is empty. Add files to a media folder and scan, or download something.",
        anyFilter(f) ? h("button", { class: "btn", onclick: resetFilters }, "Clear filters") : h("a", { class: "btn", href: "#/downloads" }, "Download")));
    } catch (err) {
      if (mine === seq) clear(list, errorView(err, restart));
    } finally {
      if (mine === seq) { loading = false; more.hidden = !hasMore; }
      else loading = false;
    }
  }

  function resetFilters() {
    for (const k of FILTERS) f[k] = "";
    if (search) search.value = "";
    location.hash = "#/library";
  }

  async function fillArtists() {
    try {
      const names = (await api.get("/artists", { per_page: 100 })).data;
      artist.append(...names.map((a) => h("option", { value: a.name, selected: a.name === f.artist }, `${a.name} (${a.media_count})`)));
      if (f.artist && !names.some((a) => a.name === f.artist)) artist.append(h("option", { value: f.artist, selected: true }, f.artist));
    } catch { /* the filter still works without the list */ }
  }

  async function fillAlbums() {
    clear(album, h("option", { value: "" }, f.genre === PODCAST_GENRE ? "All shows" : "All albums"));
    try {
      const albums = (await api.get("/albums", { artist: f.artist, genre: f.genre.trim(), per_page: 100 })).data;
      album.append(...albums.map((a) => h("option", { value: a.name, selected: a.name === f.album }, a.name)));
      if (f.album && !albums.some((a) => a.name === f.album)) album.append(h("option", { value: f.album, selected: true }, f.album));
    } catch { /* as above */ }
  }

  const on = (el, ev, fn) => el.addEventListener(ev, fn);
  on(kind, "change", () => { f.kind = kind.value; restart(); });
  on(artist, "change", () => { f.artist = artist.value; f.album = ""; fillAlbums(); restart(); });
  on(album, "change", () => { f.album = album.value; restart(); });
  on(sort, "change", () => { f.sort = sort.value; f.order = ""; renderOrder(); restart(); });
  on(order, "click", () => { f.order = (f.order || defaultOrder(f.sort)) === "desc" ? "asc" : "desc"; renderOrder(); restart(); });
  on(genre, "input", debounce(() => { f.genre = genre.value; restart(); }, 300));
  on(liked.querySelector("input"), "change", (e) => { f.liked = e.target.checked ? "true" : ""; restart(); });
  on(viewBtn, "click", () => {
    view = view === "grid" ? "list" : "grid";
    localStorage.setItem("medianest.view", view);
    renderView();
    clear(list, items.map((it) => view === "grid" ? media.card(it, items) : media.row(it, items)));
  });
  const onSearch = debounce((e) => { f.q = e.detail; restart(); }, 200);
  window.addEventListener("medianest:search", onSearch);

  const observer = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) loadMore(); },
    { rootMargin: "600px" });
  observer.observe(sentinel);
  const offUpdated = socket.on("library:updated", debounce(() => { if (!items.length || !hasMore) restart(); }, 1000));

  renderOrder();
  renderView();
  root.append(
    h("div", { class: "page-head" }, h("h1", {}, heading), count),
    h("div", { class: "toolbar", role: "toolbar", "aria-label": "Filters" }, kind, artist, album, genre, genres, liked,
      h("span", { class: "spacer" }), h("label", { class: "muted small" }, "Sort"), sort, order, viewBtn),
    list, sentinel, more);
  await Promise.all([fillArtists(), fillAlbums(), loadMore()]);
  return () => {
    observer.disconnect();
    offUpdated();
    window.removeEventListener("medianest:search", onSearch);
  };
}

function defaultOrder(sort) {
  return ["added_at", "uploaded_at", "play_count", "last_played_at"].includes(sort) ? "desc" : "asc";
}

function anyFilter(f) {
  return ["q", "kind", "liked", "artist", "album", "genre"].some((k) => f[k]);
}
