// The signed-in person's own lists: liked, recently played, most played, and the play history.
import { api } from "../api.js";
import { icon } from "../icons.js";
import * as media from "../media.js";
import { clear, empty, errorView, fmtAgo, h, setTitle } from "../ui.js";

const LISTS = {
  favorites: ["Liked", "Nothing liked yet. Press the heart on anything you love."],
  recent: ["Recently played", "Nothing played yet."],
  frequent: ["Most played", "Nothing played yet."],
  history: ["History", "Your play history is empty."],
};
const PER_PAGE = 50;

export async function render(root, params) {
  const which = LISTS[params.list] ? params.list : "favorites";
  const [title, none] = LISTS[which];
  setTitle(title);
  const list = h("div", { class: "media-list", "data-testid": "media-list" });
  const more = h("button", { class: "btn ghost", hidden: true }, "Load more");
  const items = [];
  let page = 0;

  async function load() {
    const r = await api.get(`/me/${which}`, { page: page + 1, per_page: PER_PAGE });
    page++;
    more.hidden = !r.meta.has_more;
    for (const entry of r.data) {
      const item = which === "history" ? entry.media : entry;
      items.push(item);
      const note = which === "history" ? `${fmtAgo(entry.played_at)}${entry.completed ? "" : " · partly"}`
        : which === "frequent" ? `${item.play_count} play${item.play_count === 1 ? "" : "s"}`
        : which === "recent" ? fmtAgo(item.last_played_at) : null;
      list.append(media.row(item, items, [], note ? h("span", { class: "muted small lead" }, note) : null));
    }
    if (!items.length) clear(list, empty(none, h("a", { class: "btn", href: "#/library" }, "Browse the library")));
  }

  more.addEventListener("click", () => load().catch((err) => clear(list, errorView(err))));
  const playAll = h("button", { class: "btn primary", onclick: () => media.playAll(items) }, icon("play"), "Play all");
  root.append(h("div", { class: "page-head" }, h("h1", {}, title), playAll),
    h("nav", { class: "tabs", "aria-label": "Your lists" }, Object.entries(LISTS).map(([k, [label]]) =>
      h("a", { href: `#/me/${k}`, "aria-current": k === which ? "page" : null }, label))),
    list, more);
  try { await load(); } catch (err) { clear(list, errorView(err, () => location.reload())); }
  playAll.hidden = !items.length;
}
