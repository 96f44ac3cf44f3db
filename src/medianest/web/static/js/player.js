// The player: one <audio> and one <video> element owned here, outside the page area, so playback goes on
// while the user moves between pages. The queue is the play order; shuffle reorders what is still to come
// and turning it off restores the order it was in. Plays and resume points go to the API.
// Every item plays: the server is asked how (`/playback` with what this browser decodes) and answers with a
// file, a progressive transcode or an HLS playlist (stream.js); positions are the item's, whatever the stream's
// own clock says. An item whose folder is offline is refused before anything changes, with one message; one
// that fails says so in words (the server's when it has some) and stays current; the queue moves on only when
// an item ends, never by itself after an error.
import { api, beacon } from "./api.js";
import { icon } from "./icons.js";
import { capabilities, whyNot } from "./playable.js";
import { explain, Stream } from "./stream.js";
import { art, errorText, fmtDuration, h, showError, toast } from "./ui.js";

const SAVE_EVERY_S = 10;     // resume point while playing
const RESUME_MIN_S = 5;      // positions this close to the start are not worth resuming
const PLAY_MIN_S = 30;       // a play counts after this much listening (or half a short track)

const audio = h("audio", { preload: "metadata", "data-testid": "audio" });
const video = h("video", { preload: "metadata", playsinline: true, "data-testid": "video", class: "video" });
// The mini player: the video in a strip above the player bar while the user is away from its page.
const dockScreen = h("div", { class: "dock-screen", title: "Back to the video's page", onclick: () => expandVideo() });
const dockTitle = h("div", { class: "dock-title" });
const dock = h("div", { class: "video-dock", hidden: true, role: "region", "aria-label": "Mini player", "data-testid": "mini-player" },
  dockScreen,
  h("div", { class: "dock-text" }, dockTitle, h("div", { class: "muted small" }, "Plays on while you browse")),
  h("button", { class: "icon-btn", title: "Back to the video's page", "aria-label": "Expand the video",
    onclick: () => expandVideo() }, icon("expand")),
  h("button", { class: "icon-btn", title: "Stop the video", "aria-label": "Close the video",
    onclick: () => closeVideo() }, icon("close")));
const events = new EventTarget();

const state = {
  queue: [], index: -1, shuffle: false, repeat: "off", original: null,
  listened: 0, lastTime: 0, lastSaved: 0, reported: false, failed: null, audioTrack: null,
};
let media = audio;
let videoHome = dockScreen;
let stream = null;  // the current item's Stream, once its playback decision is in
let loads = 0;      // a load superseded by a newer one (another click) stops at its next step
let saving = Promise.resolve();  // resume points go one after another (see saveProgress)

// The current item's position and length in seconds (a restarted transcode's element counts from its base).
export const position = () => (stream ? stream.position() : media.currentTime || 0);
export const duration = () => stream?.duration() || current()?.duration_s || 0;

export const current = () => state.queue[state.index] ?? null;
export const queue = () => state.queue.slice();
export const element = () => media;
export const settings = () => ({ shuffle: state.shuffle, repeat: state.repeat });
// The server's playback decision for the current item ({method, reason, protocol, audio_tracks, ...}), or null.
export const playback = () => stream?.decision ?? null;
export const usesHlsJs = () => !!stream?.usesHlsJs;

export function onChange(fn) {
  events.addEventListener("change", fn);
  return () => events.removeEventListener("change", fn);
}

function changed() {
  events.dispatchEvent(new Event("change"));
  renderBar();
}

// Says why `item` cannot be played here, once; true when it was refused.
function refused(item) {
  const why = whyNot(item);
  if (why) toast(why, "error", 6000);
  return !!why;
}

export const playable = (item) => !whyNot(item);

export async function play(items, start = 0) {
  const chosen = items[start];
  if (!chosen || refused(chosen)) return;  // the player stays as it was
  await leaveCurrent();
  // Only what can be played here joins the queue, so moving on never lands on an item to refuse.
  state.queue = items.filter((it) => it === chosen || playable(it));
  state.original = null;
  state.index = state.queue.indexOf(chosen);
  if (state.shuffle) shuffleUpcoming();
  await load();
}

export function playNext(item) {
  if (refused(item)) return;
  if (state.index < 0) return play([item]);
  state.queue.splice(state.index + 1, 0, item);
  state.original?.splice(state.original.indexOf(current()) + 1, 0, item);
  toast(`“${item.title}” plays next`);
  changed();
}

export function enqueue(item) {
  if (refused(item)) return;
  if (state.index < 0) return play([item]);
  state.queue.push(item);
  state.original?.push(item);
  toast(`Added “${item.title}” to the queue`);
  changed();
}

export async function jump(i) {
  if (i < 0 || i >= state.queue.length) return;
  await leaveCurrent();
  state.index = i;
  await load();
}

export async function removeAt(i) {
  const [gone] = state.queue.splice(i, 1);
  if (state.original) state.original = state.original.filter((it) => it !== gone);
  if (i < state.index) state.index--;
  else if (i === state.index) {
    media.pause();
    if (state.queue.length === 0) { stop(); return; }
    state.index = Math.min(state.index, state.queue.length - 1);
    await load();
    return;
  }
  changed();
}

export function toggle() {
  if (!current()) return;
  if (!media.getAttribute("src") || state.failed) { load(); return; }  // it failed: try again, on request
  if (media.paused) media.play().catch(playFailed);
  else media.pause();
}

export async function next(auto = false) {
  if (!current()) return;
  if (auto && state.repeat === "one") { seek(0); media.play().catch(playFailed); return; }
  await leaveCurrent();
  if (state.index + 1 < state.queue.length) state.index++;
  else if (state.repeat === "all") state.index = 0;
  else { media.pause(); changed(); return; }
  await load();
}

export async function previous() {
  if (!current()) return;
  if (position() > 3 || (state.index === 0 && state.repeat !== "all")) { seek(0); return; }
  await leaveCurrent();
  state.index = state.index > 0 ? state.index - 1 : state.queue.length - 1;
  await load();
}

// Seek to `seconds` of the current item: within the stream, or by asking for a transcode from there.
export function seek(seconds) {
  const d = duration();
  if (!current() || !stream || !d || state.failed) return;
  state.lastTime = 0;  // the element's clock may restart: nothing until the next update counts as listened
  if (stream.seek(Math.max(0, Math.min(d - 0.05, seconds)))) media.play().catch(playFailed);
  renderTime();
}

// Play the current item's audio track `index` (of the decision's audio_tracks) from where it is now.
export async function chooseAudioTrack(index) {
  const item = current();
  if (!item || !stream || index === stream.decision.audio_track) return;
  state.audioTrack = index;
  const ticket = ++loads;
  const at = position();
  const paused = media.paused;
  if (await begin(item, at, ticket) && !paused) media.play().catch(playFailed);
}

export function setVolume(v) {
  audio.volume = video.volume = Math.max(0, Math.min(1, v));
  localStorage.setItem("medianest.volume", String(audio.volume));
  renderBar();
}

export function toggleMute() {
  audio.muted = video.muted = !media.muted;
  renderBar();
}

export function toggleShuffle() {
  state.shuffle = !state.shuffle;
  if (state.shuffle) shuffleUpcoming();
  else if (state.original) {
    const now = current();
    state.queue = state.original;
    state.index = Math.max(0, state.queue.indexOf(now));
    state.original = null;
  }
  localStorage.setItem("medianest.shuffle", state.shuffle ? "1" : "");
  changed();
}

export function cycleRepeat() {
  state.repeat = { off: "all", all: "one", one: "off" }[state.repeat];
  localStorage.setItem("medianest.repeat", state.repeat);
  changed();
}

function shuffleUpcoming() {
  state.original = state.original || state.queue.slice();
  const rest = state.queue.slice(state.index + 1);
  for (let i = rest.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [rest[i], rest[j]] = [rest[j], rest[i]];
  }
  state.queue.splice(state.index + 1, rest.length, ...rest);
}

// Signing out ends playback and forgets the queue: the next person to sign in here starts afresh.
export function reset() {
  if (current()) stop();
}

function stop() {
  release();
  media.removeAttribute("src");
  media.load();
  state.index = -1;
  state.queue = [];
  dock.hidden = true;
  changed();
}

// The video page shows the <video> in its stage; elsewhere it sits in the mini player. Moving a playing
// element within one task does not pause it.
export function attachVideo(container) {
  videoHome = container;
  container.append(video);
  dock.hidden = true;
  return () => {
    videoHome = dockScreen;
    dockScreen.append(video);
    dock.hidden = !(current()?.kind === "video");
  };
}

function expandVideo() {
  const item = current();
  if (item) location.hash = `#/watch/${item.id}`;
}

async function closeVideo() {
  await leaveCurrent();  // its resume point is kept
  stop();
}

// Let go of the current stream (an hls.js instance with its buffers), before another takes the element.
function release() {
  stream?.destroy();
  stream = null;
}

// The current item cannot play: it stays current, silent, for the user to retry or move on from.
function halt() {
  release();
  media.pause();
  media.removeAttribute("src");
  media.load();
  changed();
}

// Say once that the current item cannot play, with the server's words when it gave some.
async function failed(item, reason = null) {
  if (state.failed === item) return;
  state.failed = item;
  changed();
  // A folder that went offline while playing answers 503: say so rather than blaming the format.
  let why = null;
  try { why = whyNot((await api.get(`/media/${item.id}`)).data); } catch { /* the words below */ }
  toast(why || `Cannot play “${item.title || "this item"}”: ${reason || "the browser cannot decode it or the file is gone."}`,
    "error", 6000);
}

async function load() {
  const listed = current();
  const ticket = ++loads;
  state.listened = 0; state.lastTime = 0; state.lastSaved = 0; state.reported = false; state.failed = null;
  state.audioTrack = null;
  release();
  let item = listed;
  try {
    // A fresh copy: its stream token is new (queues outlive tokens) and its resume point current.
    item = (await api.get(`/media/${listed.id}`)).data;
  } catch (err) {
    if (ticket !== loads) return;
    halt();
    return failed(listed, errorText(err));
  }
  if (ticket !== loads) return;
  state.queue[state.index] = item;
  if (state.original) state.original[state.original.indexOf(listed)] = item;
  if (refused(item)) { state.failed = item; return halt(); }  // its folder went offline since the list was loaded
  const want = item.kind === "video" ? video : audio;
  if (want !== media) { media.pause(); media.removeAttribute("src"); media.load(); }
  media = want;
  if (media === video) {
    if (videoHome === dockScreen) dockScreen.append(video);
    dock.hidden = videoHome !== dockScreen;
  } else dock.hidden = true;
  const resume = item.position_s && item.position_s > RESUME_MIN_S &&
    (!item.duration_s || item.position_s < item.duration_s - RESUME_MIN_S) ? item.position_s : 0;
  updateMediaSession(item);
  changed();
  if (!await begin(item, resume, ticket)) return;
  if (resume) {
    media.addEventListener("loadedmetadata", () => toast(`Resumed “${item.title}” at ${fmtDuration(resume)}`),
      { once: true });
  }
  try { await media.play(); } catch (err) { playFailed(err); }
}

// Ask the server how to play `item` here and start that stream at `at` seconds; false when it cannot (said).
async function begin(item, at, ticket) {
  let decision;
  try {
    const query = { ...await capabilities(item.kind), audio_track: state.audioTrack ?? undefined };
    decision = (await api.get(`/media/${item.id}/playback`, query)).data;
  } catch (err) {
    if (ticket !== loads) return false;
    halt();
    failed(item, errorText(err));
    return false;
  }
  if (ticket !== loads) return false;
  release();
  stream = new Stream(media, decision, (url) => streamFailed(item, url));
  await stream.start(at);
  if (ticket !== loads) return false;
  state.lastTime = 0;
  changed();
  return true;
}

function playFailed(err) {
  if (err?.name === "AbortError") return;  // replaced by the next item before it started: fine
  // The element's own "error" event says what failed to load, once: this rejection is the same failure.
  if (err?.name === "NotSupportedError") return;
  if (err?.name === "NotAllowedError") { toast("Press play to start (the browser blocked autoplay)"); return; }
  showError(err);
}

// Report what was heard of the item being left, and keep its resume point.
export { leaveCurrent as finish };

async function leaveCurrent() {
  const item = current();
  if (!item || !media.src) return;
  media.pause();
  const at = position();
  if (!state.reported && state.listened >= Math.min(PLAY_MIN_S, (item.duration_s || 60) / 2)) {
    state.reported = true;
    api.post(`/media/${item.id}/plays`, { position_s: at, listened_s: state.listened, completed: false })
      .catch(() => {});
  } else if (at > RESUME_MIN_S) {
    saveProgress(item, at);
  }
}

// One save at a time, in order: two in flight at once (a periodic save, then the pause's) can land the
// other way round, and the resume point would be the older position.
function saveProgress(item, at) {
  saving = saving.then(() => api.put(`/media/${item.id}/progress`, { position_s: at })).catch(() => {});
}

function onTimeUpdate() {
  const own = media.currentTime;
  const delta = own - state.lastTime;
  if (delta > 0 && delta < 1.5 && !media.paused) state.listened += delta;  // seeks are not listening
  state.lastTime = own;
  const item = current();
  const t = position();
  if (item && !media.paused && Math.abs(t - state.lastSaved) >= SAVE_EVERY_S) {
    state.lastSaved = t;
    saveProgress(item, t);
  }
  renderTime();
  const d = duration();
  if ("mediaSession" in navigator && d > 0) {
    try {
      navigator.mediaSession.setPositionState({ duration: d, position: Math.min(t, d), playbackRate: media.playbackRate });
    } catch { /* some browsers reject a position past the duration */ }
  }
}

async function onEnded() {
  const item = current();
  if (item && !state.reported) {
    state.reported = true;
    try {
      const r = await api.post(`/media/${item.id}/plays`, { position_s: duration(),
        listened_s: state.listened, completed: true });
      item.play_count = r.data.play_count;
      item.position_s = 0;
    } catch { /* a missed count is not worth interrupting the music */ }
  }
  await next(true);
}

// A failure while loading or playing: one message, and the player stays on the item.
async function onError() {
  const item = current();
  if (!item || !media.getAttribute("src") || state.failed === item || !stream) return;
  streamFailed(item, stream.url);
}

// The stream of `item` failed at `url`: the server may say why (a transcode that cannot decode the file, a
// server at its transcode limit); the element only says that it failed.
async function streamFailed(item, url) {
  if (state.failed === item || current() !== item) return;
  state.failed = item;  // one message, even when the element and hls.js both report it
  const reason = await explain(url);
  if (current() !== item) return;
  state.failed = null;
  failed(item, reason);
  media.pause();
}

for (const el of [audio, video]) {
  el.addEventListener("timeupdate", () => el === media && onTimeUpdate());
  el.addEventListener("ended", () => el === media && onEnded());
  el.addEventListener("error", () => el === media && onError());
  for (const ev of ["play", "pause", "volumechange", "durationchange", "loadedmetadata"]) {
    el.addEventListener(ev, () => el === media && renderBar());
  }
  el.addEventListener("pause", () => {
    const item = current();
    if (el === media && item && !el.ended && !state.failed && position() > RESUME_MIN_S) {
      saveProgress(item, position());
    }
  });
}

window.addEventListener("pagehide", () => {
  const item = current();
  if (item && position() > RESUME_MIN_S) beacon("PUT", `/media/${item.id}/progress`, { position_s: position() });
});

function updateMediaSession(item) {
  if (!("mediaSession" in navigator)) return;
  navigator.mediaSession.metadata = new MediaMetadata({
    title: item.title || "", artist: item.artist || item.channel || "", album: item.album || "",
    artwork: item.artwork_url ? [{ src: item.artwork_url, sizes: "512x512" }] : [],
  });
}

function installMediaSession() {
  if (!("mediaSession" in navigator)) return;
  const handlers = {
    play: () => media.play().catch(playFailed), pause: () => media.pause(),
    previoustrack: () => previous(), nexttrack: () => next(false),
    seekbackward: (d) => seek(position() - (d.seekOffset || 10)),
    seekforward: (d) => seek(position() + (d.seekOffset || 10)),
    seekto: (d) => seek(d.seekTime), stop: () => media.pause(),
  };
  for (const [action, fn] of Object.entries(handlers)) {
    try { navigator.mediaSession.setActionHandler(action, fn); } catch { /* action not supported here */ }
  }
}

// ---- the now-playing bar ----
let bar = null;
let parts = {};
let seeking = false;

export function mountBar(container) {
  const range = (cls, label, attrs) => h("input", { type: "range", class: cls, "aria-label": label, ...attrs });
  parts = {
    art: h("div", { class: "np-art" }),
    title: h("div", { class: "np-title", "data-testid": "now-playing-title" }),
    artist: h("div", { class: "np-artist muted" }),
    prev: h("button", { class: "icon-btn", title: "Previous (P)", "aria-label": "Previous", onclick: () => previous() }, icon("prev")),
    play: h("button", { class: "icon-btn big", title: "Play/pause (Space)", "aria-label": "Play", "data-testid": "play-pause",
      onclick: toggle }, icon("play")),
    next: h("button", { class: "icon-btn", title: "Next (N)", "aria-label": "Next", onclick: () => next(false) }, icon("next")),
    shuffle: h("button", { class: "icon-btn", title: "Shuffle (S)", "aria-label": "Shuffle", onclick: toggleShuffle }, icon("shuffle")),
    repeat: h("button", { class: "icon-btn", title: "Repeat (R)", "aria-label": "Repeat", onclick: cycleRepeat }, icon("repeat")),
    time: h("span", { class: "np-time" }, "0:00"),
    duration: h("span", { class: "np-time" }, "0:00"),
    seek: range("np-seek", "Seek", { min: 0, max: 1000, value: 0, step: 1, "data-testid": "seek" }),
    mute: h("button", { class: "icon-btn", title: "Mute (M)", "aria-label": "Mute", onclick: toggleMute }, icon("volume")),
    volume: range("np-volume", "Volume", { min: 0, max: 100, value: 100 }),
    queueBtn: h("button", { class: "icon-btn", title: "Queue (Q)", "aria-label": "Queue", "data-testid": "queue-toggle",
      onclick: () => toggleQueue() }, icon("queue")),
    queue: h("div", { class: "queue-panel", hidden: true, "data-testid": "queue" }),
  };
  parts.seek.addEventListener("input", () => { seeking = true; renderTime(); });
  parts.seek.addEventListener("change", () => {
    seeking = false;
    seek((parts.seek.value / 1000) * duration());
  });
  parts.volume.addEventListener("input", () => setVolume(parts.volume.value / 100));
  bar = h("div", { class: "player-bar", id: "player", hidden: true },
    h("div", { class: "np-info" }, parts.art, h("div", { class: "np-text" }, parts.title, parts.artist)),
    h("div", { class: "np-controls" },
      h("div", { class: "np-buttons" }, parts.shuffle, parts.prev, parts.play, parts.next, parts.repeat),
      h("div", { class: "np-progress" }, parts.time, parts.seek, parts.duration)),
    h("div", { class: "np-extra" }, parts.mute, parts.volume, parts.queueBtn),
    audio);
  container.append(parts.queue, dock, bar);
  dockScreen.append(video);
  const saved = parseFloat(localStorage.getItem("medianest.volume") || "1");
  audio.volume = video.volume = isFinite(saved) ? saved : 1;
  state.shuffle = !!localStorage.getItem("medianest.shuffle");
  state.repeat = localStorage.getItem("medianest.repeat") || "off";
  installMediaSession();
  renderBar();
}

function renderBar() {
  if (!bar) return;
  const item = current();
  bar.hidden = !item;
  document.body.classList.toggle("has-player", !!item);
  if (!item) return;
  parts.art.replaceChildren(art(item, "np-cover"));
  parts.title.textContent = item.title || "Untitled";
  parts.title.title = item.title || "";
  parts.artist.textContent = item.artist || item.channel || "";
  dockTitle.textContent = item.title || "Untitled";
  parts.play.replaceChildren(icon(media.paused ? "play" : "pause"));
  parts.play.setAttribute("aria-label", media.paused ? "Play" : "Pause");
  parts.shuffle.classList.toggle("on", state.shuffle);
  parts.shuffle.setAttribute("aria-pressed", String(state.shuffle));
  parts.repeat.classList.toggle("on", state.repeat !== "off");
  parts.repeat.replaceChildren(icon(state.repeat === "one" ? "repeat-one" : "repeat"));
  parts.repeat.title = `Repeat: ${state.repeat} (R)`;
  parts.mute.replaceChildren(icon(media.muted || media.volume === 0 ? "mute" : "volume"));
  parts.volume.value = String(Math.round(media.volume * 100));
  if ("mediaSession" in navigator) navigator.mediaSession.playbackState = media.paused ? "paused" : "playing";
  renderTime();
  if (!parts.queue.hidden) renderQueue();
}

function renderTime() {
  if (!bar) return;
  const d = duration();
  const t = seeking ? (parts.seek.value / 1000) * d : position();
  parts.time.textContent = fmtDuration(t);
  parts.duration.textContent = fmtDuration(d);
  if (!seeking) parts.seek.value = d ? String(Math.round((t / d) * 1000)) : "0";
}

export function toggleQueue(show = parts.queue.hidden) {
  parts.queue.hidden = !show;
  parts.queueBtn.classList.toggle("on", show);
  if (show) renderQueue();
}

function renderQueue() {
  parts.queue.replaceChildren(
    h("div", { class: "queue-head" }, h("strong", {}, `Queue · ${state.queue.length}`),
      h("button", { class: "icon-btn", "aria-label": "Close queue", onclick: () => toggleQueue(false) }, icon("close"))),
    h("ol", { class: "queue-list" }, state.queue.map((it, i) => h("li", { class: i === state.index ? "current" : "" },
      h("button", { class: "queue-item", onclick: () => jump(i) },
        h("span", { class: "q-title" }, it.title || "Untitled"), h("span", { class: "muted small" }, it.artist || "")),
      h("button", { class: "icon-btn", "aria-label": `Remove ${it.title} from the queue`, onclick: () => removeAt(i) }, icon("close"))))));
}

// ---- keyboard shortcuts (not while typing) ----
export const SHORTCUTS = [
  ["Space / K", "play or pause"], ["← / →", "seek 5 s (Shift: 30 s)"], ["↑ / ↓", "volume"], ["N / P", "next / previous"],
  ["M", "mute"], ["S", "shuffle"], ["R", "repeat"], ["Q", "queue"], ["/", "search"], ["?", "this help"],
];

export function installShortcuts(extra) {
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (t instanceof HTMLElement && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName) ||
        t.closest("dialog"))) return;
    const step = e.shiftKey ? 30 : 5;
    const keys = {
      " ": toggle, k: toggle, ArrowLeft: () => seek(position() - step), ArrowRight: () => seek(position() + step),
      ArrowUp: () => setVolume(media.volume + 0.1), ArrowDown: () => setVolume(media.volume - 0.1),
      n: () => next(false), p: () => previous(), m: toggleMute, s: toggleShuffle, r: cycleRepeat, q: () => toggleQueue(),
      ...extra,
    };
    const fn = keys[e.key] || keys[e.key.toLowerCase()];
    if (!fn) return;
    if (t instanceof HTMLButtonElement && e.key === " ") return;  // Space on a button presses the button
    e.preventDefault();
    fn();
  });
}
