// Media items as the pages show them: grid cards and list rows, each with the same menu (play, queue,
// add to playlist, like, open, download), plus the "add to playlist" chooser. Every format plays (the server
// transcodes what this browser does not decode); an item whose folder is offline stays in every list, greyed
// with an "Offline" badge, and says why when it is clicked.
import { api, currentUser } from "./api.js";
import * as player from "./player.js";
import { icon } from "./icons.js";
import { isOffline, whyNot } from "./playable.js";
import { art, dialog, fmtDuration, h, menu, showError, toast } from "./ui.js";

export function open(item, list = [item]) {
  const why = whyNot(item);
  if (why) { toast(why, "error", 6000); return; }
  if (item.kind === "video") { location.hash = `#/watch/${item.id}`; return; }
  const audios = list.filter((it) => it.kind !== "video");
  player.play(audios, Math.max(0, audios.indexOf(item)));
}

export async function toggleLike(item) {
  try {
    if (item.liked) await api.del(`/media/${item.id}/like`);
    else await api.put(`/media/${item.id}/like`);
    item.liked = !item.liked;
    toast(item.liked ? `Liked “${item.title}”` : `Removed “${item.title}” from your likes`);
    return item.liked;
  } catch (err) { showError(err); return item.liked; }
}

// The first playable audio item of `list` (or its first item, which then says why it cannot play).
export function playAll(list) {
  const first = list.find((it) => it.kind !== "video" && player.playable(it)) || list[0];
  if (first) open(first, list);
}

export function itemMenu(anchor, item, extra = []) {
  const why = whyNot(item);
  const audio = item.kind !== "video";
  menu(anchor, [
    why ? { label: why, note: true } : null,
    why ? null : { label: audio ? "Play" : "Watch", action: () => open(item) },
    audio && !why ? { label: "Play next", action: () => player.playNext(item) } : null,
    audio && !why ? { label: "Add to queue", action: () => player.enqueue(item) } : null,
    { label: "Add to playlist…", action: () => addToPlaylist(item) },
    { label: item.liked ? "Unlike" : "Like", action: async () => { await toggleLike(item); refreshLikeButtons(item); } },
    item.artist ? { label: `More by ${item.artist}`, action: () => { location.hash = `#/library?artist=${encodeURIComponent(item.artist)}`; } } : null,
    item.album ? { label: `Album: ${item.album}`, action: () => { location.hash = `#/library?album=${encodeURIComponent(item.album)}`; } } : null,
    isOffline(item) ? null : { label: "Download file", action: () => { location.href = item.stream_url + "&download=1"; } },
    ...extra,
  ]);
}

function refreshLikeButtons(item) {
  document.querySelectorAll(`[data-like="${item.id}"]`).forEach((b) => renderLike(b, item));
}

function renderLike(btn, item) {
  btn.replaceChildren(icon(item.liked ? "heart-on" : "heart"));
  btn.classList.toggle("on", !!item.liked);
  btn.setAttribute("aria-pressed", String(!!item.liked));
  btn.setAttribute("aria-label", item.liked ? `Unlike ${item.title}` : `Like ${item.title}`);
}

export function likeButton(item) {
  const btn = h("button", { class: "icon-btn like", dataset: { like: item.id },
    onclick: async (e) => { e.stopPropagation(); await toggleLike(item); refreshLikeButtons(item); } });
  renderLike(btn, item);
  return btn;
}

export async function addToPlaylist(item) {
  let mine;
  try { mine = (await api.get("/playlists", { mine: true, per_page: 100 })).data; }
  catch (err) { showError(err); return; }
  const select = h("select", { name: "playlist", "data-testid": "playlist-choice" },
    mine.map((p) => h("option", { value: p.id }, p.name)),
    h("option", { value: "__new" }, "New playlist…"));
  const name = h("input", { name: "name", placeholder: "New playlist name", maxlength: 200, autocomplete: "off" });
  const nameField = h("label", { class: "field", hidden: mine.length > 0 }, "Name", name);
  select.addEventListener("change", () => { nameField.hidden = select.value !== "__new"; });
  if (!mine.length) select.value = "__new";
  const values = await dialog(`Add “${item.title}” to a playlist`,
    h("div", {}, h("label", { class: "field" }, "Playlist", select), nameField), { submit: "Add" });
  if (!values) return;
  try {
    let id = values.playlist, label = mine.find((p) => p.id === id)?.name;
    if (id === "__new") {
      if (!values.name?.trim()) { toast("Give the new playlist a name", "error"); return; }
      const made = (await api.post("/playlists", { name: values.name.trim() })).data;
      id = made.id; label = made.name;
    }
    await api.post(`/playlists/${id}/items`, { media_id: item.id });
    toast(`Added to “${label}”`);
  } catch (err) { showError(err); }
}

function menuButton(item, extra) {
  return h("button", { class: "icon-btn", "aria-label": `More for ${item.title}`, title: "More", "data-testid": "item-menu",
    onclick: (e) => { e.stopPropagation(); itemMenu(e.currentTarget, item, extra); } }, icon("more"));
}

function nowPlayingMark(el, item) {
  el.classList.toggle("playing", player.current()?.id === item.id);
}

// "Offline" (its folder is away), with the reason on hover.
function stateBadge(item, why) {
  if (!why) return null;
  return h("span", { class: "badge badge-offline", title: why, "data-testid": "offline-badge" }, icon("offline"), "Offline");
}

function stateClass(item, why) {
  return (why ? " unplayable" : "") + (isOffline(item) ? " offline" : "");
}

export function card(item, list, extra = []) {
  const why = whyNot(item);
  const el = h("article", { class: `card${stateClass(item, why)}`, tabindex: 0, "data-testid": "media-item",
    dataset: { id: item.id, kind: item.kind }, title: why,
    onclick: () => open(item, list), onkeydown: (e) => { if (e.key === "Enter") open(item, list); } },
    h("div", { class: "card-art" }, art(item),
      why ? h("span", { class: "card-state" }, stateBadge(item, why))
        : h("span", { class: "card-play", "aria-hidden": "true" }, icon("play")),
      item.kind === "video" ? h("span", { class: "badge" }, fmtDuration(item.duration_s)) : null),
    h("div", { class: "card-body" },
      h("div", { class: "card-title", title: item.title }, item.title || "Untitled"),
      h("div", { class: "card-sub muted" }, item.artist || item.channel || "Unknown artist")),
    h("div", { class: "card-actions" }, likeButton(item), menuButton(item, extra)));
  nowPlayingMark(el, item);
  return el;
}

export function row(item, list, extra = [], lead = null) {
  const why = whyNot(item);
  const el = h("div", { class: `row${stateClass(item, why)}`, role: "row", tabindex: 0, "data-testid": "media-item",
    dataset: { id: item.id, kind: item.kind }, title: why,
    onclick: () => open(item, list), onkeydown: (e) => { if (e.key === "Enter") open(item, list); } },
    lead ?? h("span", { class: "lead" }),  // the grid always has the lead column: a number, a handle or nothing
    art(item, "row-art"),
    h("div", { class: "row-main" },
      h("div", { class: "row-title", title: why ? null : item.title }, stateBadge(item, why), item.title || "Untitled"),
      h("div", { class: "muted small" }, [item.artist || item.channel, item.album].filter(Boolean).join(" · "))),
    h("div", { class: "row-meta muted small hide-phone" }, item.genre || ""),
    h("div", { class: "row-meta muted small" }, fmtDuration(item.duration_s)),
    likeButton(item), menuButton(item, extra));
  nowPlayingMark(el, item);
  return el;
}

// Keep the "now playing" highlight current on whatever list is on screen.
player.onChange(() => {
  const id = player.current()?.id;
  document.querySelectorAll("[data-testid=media-item]").forEach((el) => el.classList.toggle("playing", el.dataset.id === id));
});

export const canEdit = (owned) => owned?.owner_id === currentUser()?.id;
