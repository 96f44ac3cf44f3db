// One playback decision of the server attached to a media element, by its protocol:
// - "file": the file itself (direct play), seekable through HTTP Range;
// - "progressive": an audio transcode, not seekable while it runs (no Content-Length). A seek outside what the
//   element can seek asks for the stream again with `offset=<s>` (the output starts there), and the element's
//   time counts from that base; a finished, cached transcode comes back as a plain file, seekable as one;
// - "hls": a VOD playlist of fMP4 segments listing the whole duration, played by the browser itself where it
//   has HLS, by hls.js otherwise (or when localStorage "medianest.hls" is "js", to test that path).
// Positions here are the item's: `position()` is base + the element's time, `duration()` the item's length.

const HLS_TYPE = "application/vnd.apple.mpegurl";
let hlsLoaded = null;

// hls.js 1.7.4 (Apache-2.0, static/vendor/hls.js.LICENSE), its light build byte for byte: our playlists have one
// rendition with its audio, and subtitles are <track>s, so it lacks nothing we use. Loaded on first use only.
function loadHls() {
  hlsLoaded ??= import("../vendor/hls.light.min.mjs").then((m) => m.default);
  return hlsLoaded;
}

function withParam(url, name, value) {
  const u = new URL(url, location.href);
  u.searchParams.set(name, String(value));
  return u.pathname + u.search;
}

function within(ranges, t) {
  for (let i = 0; i < ranges.length; i++) {
    if (ranges.end(i) > ranges.start(i) && ranges.start(i) <= t && t <= ranges.end(i)) return true;
  }
  return false;
}

// Whether a progressive stream's element can get to `t` (its own time) by itself: it has the bytes, or the
// response was a finished transcode served as a file (a finite seekable range). A running transcode is not
// seekable, whatever the element claims (Chromium says [0, Infinity] for it and then waits for ever).
function reachable(el, t) {
  if (within(el.buffered, t)) return true;
  const s = el.seekable;
  return s.length > 0 && isFinite(s.end(s.length - 1)) && within(s, t);
}

export class Stream {
  /** `onFatal(url)`: hls.js gave up on the stream (the element's own "error" event says the rest). */
  constructor(el, decision, onFatal) {
    this.el = el;
    this.decision = decision;
    this.onFatal = onFatal;
    this.base = 0;
    this.hls = null;
    this.destroyed = false;
    this.url = decision.url;  // what was fetched last: where to ask why it failed
  }

  get protocol() { return this.decision.protocol; }
  get usesHlsJs() { return !!this.hls; }

  position() { return this.base + (this.el.currentTime || 0); }

  duration() {
    const own = this.el.duration;
    if (this.protocol !== "progressive" && isFinite(own) && own > 0) return own;
    return this.decision.duration_s || (isFinite(own) ? this.base + own : 0);
  }

  /** Start at `at` seconds of the item. Resolves once the source is set; the caller calls play(). */
  async start(at = 0) {
    if (this.protocol === "progressive") return this.restart(at);
    if (this.protocol === "hls" && this.hlsJsWanted()) return this.startHlsJs(at);
    this.el.src = this.url;
    if (at > 0) this.el.addEventListener("loadedmetadata", () => { this.el.currentTime = at; }, { once: true });
  }

  /** Seek to `t` seconds of the item; true when the stream was asked for again (the caller plays it). */
  seek(t) {
    const own = t - this.base;
    if (this.protocol !== "progressive" || (own >= 0 && reachable(this.el, own))) {
      const end = isFinite(this.el.duration) ? this.el.duration - 0.05 : own;
      this.el.currentTime = Math.max(0, Math.min(end, own));
      return false;
    }
    this.restart(t);
    return true;
  }

  destroy() {
    this.destroyed = true;
    if (this.hls) { this.hls.destroy(); this.hls = null; }
  }

  // The transcode starts its output at whole seconds (OpenSubsonic's offset): the base is what was asked.
  restart(at) {
    this.base = Math.max(0, Math.floor(at));
    this.url = this.base > 0 ? withParam(this.decision.url, "offset", this.base) : this.decision.url;
    this.el.src = this.url;
  }

  hlsJsWanted() {
    return localStorage.getItem("medianest.hls") === "js" || this.el.canPlayType(HLS_TYPE) === "";
  }

  async startHlsJs(at) {
    const Hls = await loadHls();
    if (this.destroyed) return;  // another item took the element while hls.js loaded
    if (!Hls.isSupported()) { this.el.src = this.url; return; }  // no MSE: the element says what it can
    // No worker: hls.js starts it from a blob: URL, which the page's CSP (worker-src falls back to script-src
    // 'self') does not allow, and fMP4 segments need no transmuxing worth one.
    const hls = this.hls = new Hls({ enableWorker: false, startPosition: at > 0 ? at : -1 });
    let recovered = false;
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal || hls !== this.hls) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !recovered) {
        recovered = true;  // one retry of the decoder, as hls.js advises; a second failure is final
        hls.recoverMediaError();
        return;
      }
      const failed = data.frag?.url || data.context?.url || data.url || this.url;
      hls.destroy();
      this.hls = null;
      this.onFatal(failed);
    });
    hls.loadSource(this.url);
    hls.attachMedia(this.el);
  }
}

/** The server's words for why `url` fails (its error envelope's message), or null when it answers fine. */
export async function explain(url) {
  const abort = new AbortController();
  try {
    const r = await fetch(url, { signal: abort.signal, headers: { Range: "bytes=0-0" } });
    if (r.ok) return null;
    const body = await r.json().catch(() => null);
    return body?.error?.message || null;
  } catch {
    return null;
  } finally {
    abort.abort();  // a transcode that did start is not wanted: the server stops it when nobody reads
  }
}
