// Text to speech on the downloads page: a text (or a web page's article) spoken into an audio item of the
// library, in a language and voice of the offline engine (eSpeak NG) or of Google Cloud Text-to-Speech
// (when an admin connected it). The job is a download: it shows in the list below like any other.
import { api } from "../api.js";
import { errorText, h, toast } from "../ui.js";

const PROVIDERS = { offline: "Offline (eSpeak NG)", google: "Google Cloud" };
const FORMATS = ["mp3", "m4a", "opus", "flac"];
const MAX_CHARS = 100000;
const PREFS = "medianest.tts";

// `list`: the downloads list ({tick, apply}) the job is shown in.
export function speechForm(list) {
  const prefs = loadPrefs();
  const s = { seq: 0, voices: [] };
  const sources = ["text", "url"].map((v) => h("input", { type: "radio", name: "tts-source", value: v,
    checked: v === "text", "data-testid": `tts-source-${v}` }));
  const text = h("textarea", { name: "text", rows: 4, maxlength: MAX_CHARS, "data-testid": "tts-text",
    placeholder: "Paste the text to hear" });
  const url = h("input", { name: "url", type: "url", inputmode: "url", autocomplete: "off", spellcheck: "false",
    placeholder: "https://example.com/article", "data-testid": "tts-url" });
  const provider = h("select", { name: "provider", "data-testid": "tts-provider" },
    Object.entries(PROVIDERS).map(([v, label]) => h("option", { value: v, selected: v === prefs.provider }, label)));
  const language = h("select", { name: "language", "data-testid": "tts-language" });
  const voice = h("select", { name: "voice", "data-testid": "tts-voice" });
  const format = h("select", { name: "audio_format", "data-testid": "tts-format" },
    FORMATS.map((f) => h("option", { value: f, selected: f === (prefs.audio_format || "mp3") }, f)));
  const go = h("button", { type: "submit", class: "btn primary", "data-testid": "tts-start" }, "Speak");
  const error = h("p", { class: "form-error", role: "alert", "data-testid": "tts-error", hidden: true });
  const textField = h("label", { class: "field tts-text" }, "Text", text);
  const urlField = h("label", { class: "field tts-url", hidden: true }, "Web page (its article is read)", url);
  const setError = (msg) => { error.textContent = msg || ""; error.hidden = !msg; };
  const source = () => sources.find((r) => r.checked)?.value || "text";

  function sync() {
    textField.hidden = source() !== "text";
    urlField.hidden = source() !== "url";
  }

  async function loadVoices() {
    const mine = ++s.seq;
    setError("");
    language.disabled = voice.disabled = true;
    try {
      const data = (await api.get("/tts/voices", { provider: provider.value })).data;
      if (mine !== s.seq) return;
      s.voices = data.voices;
      const wanted = prefs.language?.[provider.value] || (provider.value === "google" ? "en-US" : "en-us");
      language.replaceChildren(...data.languages.map((l) => h("option", { value: l.code, selected: l.code === wanted },
        l.name === l.code ? l.code : `${l.name} (${l.code})`)));
      fillVoices();
    } catch (err) {
      if (mine !== s.seq) return;
      language.replaceChildren();
      voice.replaceChildren();
      setError(errorText(err));
    } finally {
      if (mine === s.seq) language.disabled = voice.disabled = false;
    }
  }

  function fillVoices() {
    const lang = language.value.toLowerCase();
    const fits = s.voices.filter((v) => !v.languages.length || v.languages.some((c) => c.toLowerCase() === lang));
    voice.replaceChildren(h("option", { value: "" }, "Default voice"),
      ...fits.map((v) => h("option", { value: v.id }, v.gender ? `${v.name} (${v.gender.toLowerCase()})` : v.name)));
  }

  function body() {
    const out = { language: language.value, provider: provider.value, audio_format: format.value };
    if (voice.value) out.voice = voice.value;
    if (source() === "url") {
      const value = url.value.trim();
      if (!/^https?:\/\/\S+$/i.test(value)) throw new Error("Give the web page's full address (https://…).");
      out.url = value;
    } else {
      if (!/[\p{L}\p{N}]/u.test(text.value)) throw new Error("Type or paste some text to speak.");
      out.text = text.value;
    }
    if (!out.language) throw new Error("Pick a language.");
    return out;
  }

  async function start(e) {
    e.preventDefault();
    setError("");
    go.disabled = true;
    try {
      const payload = body();
      savePrefs(payload);
      const asked = list.tick();
      const dl = (await api.post("/tts", payload)).data;
      list.apply(dl, asked, "top", dl.title);
      toast(`Speaking “${dl.title}”`);
      text.value = "";
      url.value = "";
    } catch (err) {
      setError(errorText(err));
    } finally {
      go.disabled = false;
    }
  }

  function savePrefs(payload) {
    prefs.provider = payload.provider;
    prefs.audio_format = payload.audio_format;
    prefs.language = { ...(prefs.language || {}), [payload.provider]: payload.language };
    localStorage.setItem(PREFS, JSON.stringify(prefs));
  }

  sources.forEach((r) => r.addEventListener("change", sync));
  provider.addEventListener("change", loadVoices);
  language.addEventListener("change", fillVoices);
  const el = h("details", { class: "tts", "data-testid": "tts" },
    h("summary", {}, "Text to speech"),
    h("form", { class: "dl-form tts-form", novalidate: true, "aria-label": "Text to speech", onsubmit: start },
      h("div", { class: "segmented", role: "radiogroup", "aria-label": "Speak" },
        sources.map((r) => h("label", { class: "dl-mode-opt" }, r, r.value === "text" ? "A text" : "A web page"))),
      textField, urlField,
      h("div", { class: "dl-options" },
        h("label", { class: "field" }, "Engine", provider),
        h("label", { class: "field" }, "Language", language),
        h("label", { class: "field" }, "Voice", voice),
        h("label", { class: "field" }, "Format", format),
        h("span", { class: "spacer" }), go),
      error));
  // The voices are asked for the first time the section opens: most visits never use it.
  el.addEventListener("toggle", () => { if (el.open && !language.options.length) loadVoices(); });
  sync();
  return { el, dispose: () => { s.seq++; } };
}

function loadPrefs() {
  try { return JSON.parse(localStorage.getItem(PREFS)) || {}; } catch { return {}; }
}
