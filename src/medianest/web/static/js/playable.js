// What this browser plays. Every format the scanner accepts plays here: the player tells the server what the
// browser decodes (`capabilities`) and the server sends the file as it is, remuxed or transcoded. So the only
// item refused before anything loads is one whose media folder is offline (`whyNot`).
//
// The browser itself answers, through canPlayType (and MediaSource.isTypeSupported / MediaCapabilities where
// a stream must also fit them), asked once per page load. The answers are conservative: a codec is claimed
// only when the browser says "probably" for it in a container, since "maybe" is what Chromium says for
// formats it then plays silent or black (AC-3 in Matroska, HEVC without a hardware decoder).

// A container the server names -> the type to ask about; Matroska only with codecs it plays, see above.
const CONTAINERS = {
  mp4: "video/mp4", webm: "video/webm", ogg: "audio/ogg", mp3: "audio/mpeg", flac: "audio/flac", wav: "audio/wav",
  matroska: 'video/x-matroska; codecs="avc1.640028, mp4a.40.2"',
};
// A video codec the server names -> the types that prove it (RFC 6381 and WebM codec strings). The H.264
// variants are the profiles browsers decode apart: High 10 (avc1.6E) and High 4:2:2 (avc1.7A).
const VIDEO = {
  h264: ['video/mp4; codecs="avc1.640028"'], h264_10bit: ['video/mp4; codecs="avc1.6E0028"'],
  h264_422: ['video/mp4; codecs="avc1.7A0028"'], hevc: ['video/mp4; codecs="hvc1.1.6.L93.B0"'],
  vp8: ['video/webm; codecs="vp8"'], vp9: ['video/webm; codecs="vp09.00.10.08"', 'video/mp4; codecs="vp09.00.10.08"'],
  av1: ['video/mp4; codecs="av01.0.04M.08"', 'video/webm; codecs="av01.0.04M.08"'],
};
// An audio codec the server names -> the types that prove it, and the fragmented-MP4 type an HLS stream of
// a video would carry it in (null: it cannot be carried there).
const AUDIO = {
  aac: ['audio/mp4; codecs="mp4a.40.2"'], mp3: ["audio/mpeg"], opus: ['audio/ogg; codecs="opus"', 'audio/webm; codecs="opus"'],
  vorbis: ['audio/ogg; codecs="vorbis"', 'audio/webm; codecs="vorbis"'], flac: ["audio/flac", 'audio/mp4; codecs="flac"'],
  alac: ['audio/mp4; codecs="alac"'], ac3: ['audio/mp4; codecs="ac-3"'], eac3: ['audio/mp4; codecs="ec-3"'],
  pcm: ['audio/wav; codecs="1"'],
};
const IN_FMP4 = {
  aac: 'audio/mp4; codecs="mp4a.40.2"', mp3: 'audio/mp4; codecs="mp4a.69"', opus: 'audio/mp4; codecs="opus"',
  flac: 'audio/mp4; codecs="flac"', alac: 'audio/mp4; codecs="alac"', ac3: 'audio/mp4; codecs="ac-3"',
  eac3: 'audio/mp4; codecs="ec-3"',
};

const probes = {};
function probe(kind) {
  probes[kind] ??= document.createElement(kind === "video" ? "video" : "audio");
  return probes[kind];
}

// "probably" for a type with codecs; any answer for a bare type (browsers never say more than "maybe" to one).
function plays(el, type) {
  const answer = el.canPlayType(type);
  return type.includes("codecs=") ? answer === "probably" : answer !== "";
}

const mse = () => globalThis.MediaSource ?? globalThis.ManagedMediaSource ?? null;

// A video codec must also decode through Media Source Extensions (hls.js) where the browser has them, and
// MediaCapabilities must not deny it (a platform may list a codec its hardware decoder lacks here).
async function decodesVideo(el, types) {
  const type = types.find((t) => plays(el, t));
  if (!type) return false;
  const source = mse();
  if (source && !types.some((t) => source.isTypeSupported(t))) return false;
  if (!navigator.mediaCapabilities?.decodingInfo) return true;
  try {
    const info = await navigator.mediaCapabilities.decodingInfo({ type: "file",
      video: { contentType: type, width: 1280, height: 720, bitrate: 2_000_000, framerate: 30 } });
    return info.supported;
  } catch { return true; }  // an engine that cannot answer for this type: canPlayType said yes
}

async function measure(kind) {
  const el = probe(kind);
  const containers = Object.keys(CONTAINERS).filter((name) => plays(el, CONTAINERS[name]));
  const video = [];
  if (kind === "video") {
    for (const [name, types] of Object.entries(VIDEO)) if (await decodesVideo(el, types)) video.push(name);
  }
  // A video that is not played as it is comes as HLS in fragmented MP4: its audio must fit that too, or the
  // server would copy a stream (MP3, Vorbis, PCM) that Media Source Extensions refuse there.
  const source = kind === "video" ? mse() : null;
  const audio = Object.keys(AUDIO).filter((name) => AUDIO[name].some((t) => plays(el, t))
    && (!source || (IN_FMP4[name] && source.isTypeSupported(IN_FMP4[name]))));
  return { containers: containers.join(","), video: video.join(","), audio: audio.join(",") };
}

const measured = {};
// What this browser plays, as the playback decision's query: `{containers, video, audio}`, each a comma list.
export function capabilities(kind) {
  const key = kind === "video" ? "video" : "audio";
  measured[key] ??= measure(key);
  return measured[key];
}

// Words for a person saying why `item` cannot be played at all, or null when it can.
export function whyNot(item) {
  if (!item) return "Nothing to play.";
  if (item.available === false) {
    return `“${item.title || "This item"}” cannot be played. ${item.unavailable_reason || "Its media folder is offline."}`;
  }
  return null;
}

export const isOffline = (item) => item?.available === false;
