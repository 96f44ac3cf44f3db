// Playlists: the list (yours and everyone's public ones), create and import M3U8; one playlist with its
// items, drag to reorder (or Move up/down from an item's menu, for keyboards and phones), remove, rename,
// share (public), export M3U8 and delete.
import { api, currentUser, request } from "../api.js";
import * as media from "../media.js";
import { icon } from "../icons.js";
import * as player from "../player.js";
import { clear, confirm, dialog, empty, errorView, fmtDuration, h, setTitle, showError, toast } from "../ui.js";

export function render(root, params) {
  return params.variant === "detail" ? detail(root, params.id) : list(root);
}

async function list(root) {
  setTitle("Playlists");
  const mine = h("div", { class: "media-grid", "data-testid": "playlists" });
  const shared = h("div", { class: "media-grid" });
  const fileInput = h("input", { type: "file", accept: ".m3u,.m3u8,audio/x-mpegurl,text/plain", hidden: true, "data-testid": "import-file" });
  fileInput.addEventListener("change", () => importFile(fileInput));
  root.append(h("div", { class: "page-head" }, h("h1", {}, "Playlists"),
    h("button", { class: "btn primary", "data-testid": "new-playlist", onclick: create }, icon("plus"), "New playlist"),
    h("button", { class: "btn", onclick: () => fileInput.click() }, "Import M3U8"), fileInput),
  mine, h("h2", {}, "Shared by others"), shared);
  let all = [];
  try {
    for (let page = 1; ; page++) {
      const r = await api.get("/playlists", { page, per_page: 100 });
      all.push(...r.data);
      if (!r.meta.has_more) break;
    }
  } catch (err) { clear(mine, errorView(err)); return; }
  const me = currentUser()?.id;
  const own = all.filter((p) => p.owner_id === me);
  const others = all.filter((p) => p.owner_id !== me);
  mine.append(...own.map(tile));
  if (!own.length) clear(mine, empty("No playlists yet. Create one, or use “Add to playlist…” on any song."));
  shared.append(...others.map(tile));
  if (!others.length) shared.append(empty("Nobody has shared a playlist yet."));
}

function tile(p) {
  return h("a", { class: "card playlist-tile", href: `#/playlists/${p.id}`, "data-testid": "playlist-tile", dataset: { id: p.id } },
    h("div", { class: "card-art" }, h("div", { class: "art art-placeholder", style: `--hue:${hue(p.name)}` }, icon("playlist", "icon tile-icon"))),
    h("div", { class: "card-body" }, h("div", { class: "card-title" }, p.name),
      h("div", { class: "card-sub muted" }, `${p.item_count} item${p.item_count === 1 ? "" : "s"} · ${fmtDuration(p.duration_s)}`,
        p.is_public ? " · public" : "")));
}

// The first item that can be played here (or the first, which then says why it cannot).
function playFirst(all) {
  const first = all.find(player.playable) || all[0];
  if (first) media.open(first, all);
}

function hue(s) {
  let x = 0;
  for (const ch of s) x = (x * 31 + ch.codePointAt(0)) >>> 0;
  return x % 360;
}

async function create() {
  const values = await dialog("New playlist", h("div", {},
    h("label", { class: "field" }, "Name", h("input", { name: "name", required: true, maxlength: 200, autocomplete: "off" })),
    h("label", { class: "field" }, "Description", h("textarea", { name: "description", rows: 2, maxlength: 2000 })),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "is_public" }), "Anyone on this server can see it")),
  { submit: "Create" });
  if (!values) return;
  try {
    const made = (await api.post("/playlists", { name: values.name.trim(), description: values.description || null,
      is_public: values.is_public === "on" })).data;
    location.hash = `#/playlists/${made.id}`;
  } catch (err) { showError(err); }
}

async function importFile(input) {
  const file = input.files?.[0];
  input.value = "";
  if (!file) return;
  const name = file.name.replace(/\.m3u8?$/i, "").slice(0, 200) || "Imported";
  try {
    const r = (await request("POST", "/playlists/import", { params: { name }, text: file, contentType: "audio/x-mpegurl" })).data;
    toast(`Imported “${r.playlist.name}”: ${r.matched} matched${r.unmatched?.length ? `, ${r.unmatched.length} not in the library` : ""}`);
    location.hash = `#/playlists/${r.playlist.id}`;
  } catch (err) { showError(err); }
}

async function detail(root, id) {
  let pl;
  try { pl = (await api.get(`/playlists/${id}`)).data; }
  catch (err) { root.append(errorView(err)); return; }
  setTitle(pl.name);
  const owner = pl.owner_id === currentUser()?.id;
  const rows = h("div", { class: "media-list", "data-testid": "playlist-items" });
  const title = h("h1", { "data-testid": "playlist-name" }, pl.name);
  const sub = h("span", { class: "muted small" });
  const items = () => pl.items.map((it) => it.media);
  const renderSub = () => {
    sub.textContent = `${pl.items.length} item${pl.items.length === 1 ? "" : "s"} · ${fmtDuration(pl.items.reduce((s, it) => s + (it.media.duration_s || 0), 0))}${pl.is_public ? " · public" : " · private"}`;
  };

  function draw() {
    renderSub();
    if (!pl.items.length) { clear(rows, empty("This playlist is empty. Use “Add to playlist…” on any item.")); return; }
    clear(rows, pl.items.map((entry, i) => {
      const extra = owner ? [
        i > 0 ? { label: "Move up", action: () => move(entry, i - 1) } : null,
        i < pl.items.length - 1 ? { label: "Move down", action: () => move(entry, i + 1) } : null,
        { label: "Remove from playlist", action: () => remove(entry) },
      ] : [];
      const handle = owner ? h("span", { class: "drag-handle", title: "Drag to reorder", "aria-hidden": "true" }, icon("drag")) : h("span", { class: "muted small" }, i + 1);
      const el = media.row(entry.media, items(), extra, handle);
      el.dataset.itemId = entry.id;
      if (owner) draggable(el, entry);
      return el;
    }));
  }

  let dragged = null;
  function draggable(el, entry) {
    el.draggable = true;
    el.addEventListener("dragstart", (e) => { dragged = entry; el.classList.add("dragging"); e.dataTransfer.effectAllowed = "move"; e.dataTransfer.setData("text/plain", entry.id); });
    el.addEventListener("dragend", () => { el.classList.remove("dragging"); clearMarks(); });
    el.addEventListener("dragover", (e) => {
      if (!dragged) return;
      e.preventDefault();
      clearMarks();
      el.classList.add(after(e, el) ? "drop-after" : "drop-before");
    });
    el.addEventListener("drop", (e) => {
      e.preventDefault();
      if (!dragged || dragged === entry) return;
      const from = pl.items.indexOf(dragged);
      let to = pl.items.indexOf(entry) + (after(e, el) ? 1 : 0);
      if (from < to) to--;
      const moving = dragged;
      dragged = null;
      clearMarks();
      if (to !== from) move(moving, to);
    });
  }
  const after = (e, el) => { const r = el.getBoundingClientRect(); return e.clientY > r.top + r.height / 2; };
  const clearMarks = () => rows.querySelectorAll(".drop-before, .drop-after").forEach((r) => r.classList.remove("drop-before", "drop-after"));

  async function move(entry, to) {
    const before = pl.items.slice();
    pl.items.splice(pl.items.indexOf(entry), 1);
    pl.items.splice(to, 0, entry);
    draw();  // optimistic; put back if the server says no
    try { await api.patch(`/playlists/${pl.id}/items/${entry.id}`, { position: to }); }
    catch (err) { pl.items = before; draw(); showError(err); }
  }

  async function remove(entry) {
    try {
      await api.del(`/playlists/${pl.id}/items/${entry.id}`);
      pl.items = pl.items.filter((x) => x !== entry);
      draw();
      toast(`Removed “${entry.media.title}”`);
    } catch (err) { showError(err); }
  }

  async function edit() {
    const values = await dialog("Edit playlist", h("div", {},
      h("label", { class: "field" }, "Name", h("input", { name: "name", required: true, maxlength: 200, value: pl.name, autocomplete: "off" })),
      h("label", { class: "field" }, "Description", h("textarea", { name: "description", rows: 2, maxlength: 2000 }, pl.description || "")),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "is_public", checked: pl.is_public }), "Anyone on this server can see it")),
    { submit: "Save" });
    if (!values) return;
    try {
      const r = (await api.patch(`/playlists/${pl.id}`, { name: values.name.trim(), description: values.description || null,
        is_public: values.is_public === "on" })).data;
      Object.assign(pl, { name: r.name, description: r.description, is_public: r.is_public });
      title.textContent = pl.name; desc.textContent = pl.description || "";
      setTitle(pl.name); renderSub();
    } catch (err) { showError(err); }
  }

  async function destroy() {
    if (!(await confirm("Delete playlist", `Delete “${pl.name}”? The songs stay in the library.`))) return;
    try { await api.del(`/playlists/${pl.id}`); location.hash = "#/playlists"; }
    catch (err) { showError(err); }
  }

  async function exportM3u() {
    try {
      const r = await request("GET", `/playlists/${pl.id}/export.m3u8`, { raw: true });
      const url = URL.createObjectURL(await r.blob());
      const a = h("a", { href: url, download: `${pl.name}.m3u8` });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) { showError(err); }
  }

  const desc = h("p", { class: "muted" }, pl.description || "");
  root.append(h("div", { class: "page-head" }, title, sub),
    desc,
    h("div", { class: "toolbar" },
      h("button", { class: "btn primary", "data-testid": "play-playlist", onclick: () => playFirst(items()) }, icon("play"), "Play"),
      h("button", { class: "btn", onclick: () => { const a = items().filter((m) => m.kind !== "video" && player.playable(m)); a.length && player.play(a, Math.floor(Math.random() * a.length)); if (!player.settings().shuffle) player.toggleShuffle(); } }, icon("shuffle"), "Shuffle"),
      owner ? h("button", { class: "btn", "data-testid": "edit-playlist", onclick: edit }, "Edit") : null,
      h("button", { class: "btn", onclick: exportM3u }, "Export M3U8"),
      owner ? h("button", { class: "btn danger", onclick: destroy }, "Delete") : null),
    rows);
  draw();
}
