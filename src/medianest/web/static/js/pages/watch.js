// One item's page: the video stage (the player's own <video>, moved here so playback survives leaving the
// page), the audio-track choice for a file with several, subtitles as <track>s (WebVTT from the API, sidecars
// and embedded ones; they belong to the element, so they stay whatever stream plays in it: a file, native HLS
// or hls.js), OpenSubtitles search when a connection exists, and the item's details.
import { api } from "../api.js";
import * as media from "../media.js";
import { icon } from "../icons.js";
import { isOffline, whyNot } from "../playable.js";
import * as player from "../player.js";
import { art, clear, empty, errorText, fmtBytes, fmtDate, fmtDuration, h, setTitle, showError, toast } from "../ui.js";

export async function render(root, params) {
  const item = (await api.get(`/media/${params.id}`)).data;
  setTitle(item.title);
  const stage = h("div", { class: "stage", "data-testid": "stage" });
  const subs = h("div", { class: "subs" });
  const tracks = h("div", { class: "audio-tracks" });
  root.append(h("div", { class: "watch" },
    h("div", {},
      item.kind === "video" ? stage : h("div", { class: "card-art audio-art" }, art(item)),
      h("div", { class: "page-head watch-head" }, h("h1", {}, item.title || "Untitled"),
        media.likeButton(item),
        h("button", { class: "btn", onclick: () => media.addToPlaylist(item) }, icon("plus"), "Playlist"),
        isOffline(item) ? null : h("a", { class: "btn ghost", href: item.stream_url + "&download=1" }, icon("download"), "File"),
        item.kind !== "video" ? h("button", { class: "btn primary", onclick: () => player.play([item]) }, icon("play"), "Play") : null),
      h("p", { class: "muted" }, [item.artist || item.channel, item.album, item.year].filter(Boolean).join(" · ")),
      tracks),
    h("aside", { class: "watch-meta" }, details(item), item.kind === "video" ? subs : null)));
  if (item.kind !== "video") return;
  // A video whose folder is offline says why on its stage; whatever plays in the mini player stays there.
  const why = whyNot(item);
  if (why) { stage.append(h("p", { class: "stage-note", role: "note" }, why)); return; }

  const detach = player.attachVideo(stage);
  const showTracks = audioTracks(tracks, item);
  const unwatch = player.onChange(showTracks);
  if (player.current()?.id !== item.id) await player.play([item]);
  showTracks();
  setTracks(player.element(), await loadSubtitles(item, subs));
  return () => { unwatch(); detach(); };
}

// The audio-track choice in `box`, when the playback decision for `item` offers several tracks: choosing one
// asks the server for that track from the current position. Returns the function that draws it, which draws
// again only when the decision changed.
function audioTracks(box, item) {
  let shown;
  return () => {
    const decision = player.current()?.id === item.id ? player.playback() : null;
    if (decision === shown) return;
    shown = decision;
    const list = decision?.audio_tracks || [];
    if (list.length < 2) { box.replaceChildren(); return; }
    const select = h("select", { name: "audio_track", "aria-label": "Audio track", "data-testid": "audio-track",
      onchange: () => player.chooseAudioTrack(Number(select.value)) },
      list.map((t, i) => h("option", { value: String(t.index) }, trackLabel(t, i))));
    select.value = String(decision.audio_track);
    box.replaceChildren(h("label", { class: "audio-track" }, icon("volume"), select));
  };
}

function trackLabel(t, i) {
  const codec = t.codec ? `${t.codec}${t.channels ? ` ${t.channels} ch` : ""}` : null;
  const language = t.language && t.language !== "und" ? t.language : null;
  return [language, t.title, codec].filter(Boolean).join(" · ") || `Track ${i + 1}`;
}

function details(item) {
  const rows = [
    ["Length", fmtDuration(item.duration_s)],
    item.width ? ["Resolution", `${item.width}×${item.height}`] : null,
    ["Format", [item.container, item.video_codec, item.audio_codec].filter(Boolean).join(" / ") || item.mime],
    ["Size", fmtBytes(item.size)],
    item.genre ? ["Genre", item.genre] : null,
    ["Plays", String(item.play_count ?? 0)],
    ["Added", fmtDate(item.added_at)],
    /^https?:\/\//i.test(item.source_url || "") ? ["Source", h("a", { href: item.source_url, target: "_blank", rel: "noopener noreferrer" }, item.source_url)] : null,
  ].filter(Boolean);
  return h("section", {}, h("h2", {}, "Details"), h("dl", {}, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
}

async function loadSubtitles(item, box) {
  let list = [];
  try { list = (await api.get(`/media/${item.id}/subtitles`)).data; }
  catch (err) { clear(box, h("h2", {}, "Subtitles"), h("p", { class: "form-error" }, errorText(err))); return []; }
  const playable = list.filter((s) => s.url);
  clear(box, h("h2", {}, "Subtitles"),
    list.length ? h("ul", { class: "subs-list", "data-testid": "subtitles" }, list.map((s) => h("li", {},
      h("span", { class: "badge" }, s.language || "?"), h("span", {}, s.title || s.source),
      s.forced ? h("span", { class: "badge" }, "forced") : null,
      s.url ? null : h("span", { class: "muted small" }, "(image subtitles: not shown in the browser)"))))
      : empty("No subtitles for this video."),
    await searchBox(item, box));
  return playable;
}

function setTracks(video, subs) {
  video.querySelectorAll("track").forEach((t) => t.remove());
  subs.forEach((s, i) => video.append(h("track", { kind: "subtitles", src: s.url, srclang: s.language || "und",
    label: [s.language, s.title].filter(Boolean).join(" – ") || `Track ${i + 1}`, default: i === 0 })));
}

async function searchBox(item, box) {
  let board = [];
  try { board = (await api.get("/services/status")).data; } catch { /* no board: no search */ }
  if (!board.some((s) => s.kind === "opensubtitles")) return null;
  const lang = h("input", { name: "lang", value: navigator.language?.slice(0, 2) || "en", size: 4, "aria-label": "Language" });
  const results = h("div", {});
  const search = async () => {
    clear(results, h("p", { class: "muted" }, "Searching OpenSubtitles…"));
    try {
      const found = (await api.get(`/media/${item.id}/subtitles/search`, { lang: lang.value.trim() })).data;
      clear(results, found.length ? h("ul", { class: "subs-list" }, found.map((f) => h("li", {},
        h("span", { class: "badge" }, f.language), h("span", {}, f.release || f.file_name || f.title),
        f.hash_match ? h("span", { class: "badge" }, "exact match") : null,
        h("button", { class: "btn", onclick: async () => {
          try {
            await api.post(`/media/${item.id}/subtitles`, { file_id: f.file_id, language: f.language });
            toast("Subtitles saved");
            setTracks(player.element(), await loadSubtitles(item, box));
          } catch (err) { showError(err); }
        } }, "Get")))) : empty("Nothing found."));
    } catch (err) { clear(results, h("p", { class: "form-error", role: "alert" }, errorText(err))); }
  };
  return h("div", { class: "subs-search" }, h("div", { class: "toolbar" }, lang,
    h("button", { class: "btn", onclick: search }, "Find subtitles")), results);
}
