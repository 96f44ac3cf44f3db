// Whether this browser can play an item, asked before anything is loaded: an item of an offline folder
// cannot be streamed, and a format the browser does not decode (WMA, ALAC, AVI...) would only fail once
// loaded. The browser itself answers through canPlayType, with the item's codecs when the scanner knows them.

// The codec strings browsers understand (RFC 6381 and WebM's), for the codec names the scanner stores.
const CODECS = {
  aac: "mp4a.40.2", mp3: "mp3", opus: "opus", vorbis: "vorbis", flac: "flac", alac: "alac", ac3: "ac-3", eac3: "ec-3",
  h264: "avc1.42E01E", hevc: "hvc1.1.6.L93.B0", h265: "hvc1.1.6.L93.B0", vp8: "vp8", vp9: "vp09.00.10.08",
  av1: "av01.0.04M.08", mpeg4: "mp4v.20.9", theora: "theora",
};
// Containers that hold several codecs, so only a type with codecs says what will play. QuickTime is the
// MP4 box format: browsers that deny its name play the MP4 codecs in it.
const WITH_CODECS = { "audio/mp4": "audio/mp4", "video/mp4": "video/mp4", "video/quicktime": "video/mp4",
  "audio/webm": "audio/webm", "video/webm": "video/webm", "audio/x-matroska": "video/x-matroska",
  "video/x-matroska": "video/x-matroska", "audio/ogg": "audio/ogg", "video/ogg": "video/ogg" };
// What people call the formats whose scanner names say little.
const NAMES = {
  asf: { audio: "WMA", video: "WMV" }, wmav1: "WMA", wmav2: "WMA", wmapro: "WMA Pro", wmalossless: "WMA Lossless",
  wmv1: "WMV", wmv2: "WMV", wmv3: "WMV", alac: "ALAC (Apple Lossless)", hevc: "HEVC (H.265)", h265: "HEVC (H.265)",
  mpeg4: "MPEG-4 Part 2", ac3: "Dolby Digital (AC-3)", eac3: "Dolby Digital Plus (E-AC-3)", avi: "AVI", aiff: "AIFF",
  mpegts: "MPEG-TS", mpeg: "MPEG", flv: "Flash (FLV)", ape: "Monkey's Audio", wavpack: "WavPack", theora: "Theora",
};

const probes = {};
function probe(kind) {
  probes[kind] ??= document.createElement(kind === "video" ? "video" : "audio");
  return probes[kind];
}

function nameOf(name, kind) {
  const known = NAMES[name];
  if (typeof known === "object") return known[kind] || known.audio;
  return known || String(name).toUpperCase();
}

// The part of the item this browser cannot decode (a codec or the container), or null when it can.
function undecodable(item) {
  const el = probe(item.kind);
  const mime = (item.mime || "").split(";")[0].trim().toLowerCase();
  const family = WITH_CODECS[mime];
  if (!mime || (!family && el.canPlayType(mime) === "")) return item.container || mime.split("/").pop() || "this format";
  if (!family) return null;
  if (el.canPlayType(family) === "") return item.container || mime;
  const codecs = [item.video_codec, item.audio_codec].filter((c) => c && CODECS[c]);
  for (const codec of codecs) {
    if (el.canPlayType(`${family}; codecs="${CODECS[codec]}"`) === "") return codec;
  }
  return null;
}

// Words for a person saying why `item` cannot be played here, or null when it can.
export function whyNot(item) {
  if (!item) return "Nothing to play.";
  const title = item.title || "This item";
  if (item.available === false) {
    return `“${title}” cannot be played. ${item.unavailable_reason || "Its media folder is offline."}`;
  }
  const part = undecodable(item);
  if (!part) return null;
  return `This browser cannot play ${nameOf(part, item.kind)} ${item.kind === "video" ? "video" : "audio"}; `
    + `download “${title}” instead.`;
}

export const isOffline = (item) => item?.available === false;
