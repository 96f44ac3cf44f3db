// The rule form of a subscription (pages/subscriptions.js): what to download (video or audio, quality or
// format), what to keep (the newest N, the last D days), title patterns, SponsorBlock, how often to check.
// The same form adds a subscription (with its URL and a backfill) and edits one's rule (PATCH). The API
// judges the values: its 422s land under the field they name, anything else in the form's message line.
import { h } from "../ui.js";

const QUALITIES = ["best", "2160p", "1440p", "1080p", "720p", "480p", "360p"];
const QUALITY_LABELS = { best: "Best available", "2160p": "2160p (4K)", "1440p": "1440p (2K)" };
const AUDIO_FORMATS = ["mp3", "m4a", "opus", "flac"];
const SPONSORBLOCK = { "": "Leave them in", remove: "Cut them out", mark: "Mark them as chapters" };
const PATTERN_HELP = "Words or phrases separated by |, e.g. interview|live. Matched anywhere in the title, "
  + "upper or lower case alike.";
// Fields whose API errors are shown under them; an error naming anything else goes to the message line.
const FIELDS = ["url", "name", "mode", "quality", "audio_format", "keep_last", "max_age_days", "include", "exclude",
  "sponsorblock", "interval_s", "backfill"];

// `sub`: the subscription to edit, or null to add one. Returns {el, body(), showError(err), clearErrors(), reset()}.
export function ruleForm(sub, { submitLabel, onSubmit, onCancel = null }) {
  const adding = !sub;
  const f = {
    url: adding ? h("input", { name: "url", type: "url", inputmode: "url", autocomplete: "off", spellcheck: "false",
      placeholder: "https://example.com/podcast.rss or a channel or playlist link", "data-testid": "sub-url" }) : null,
    name: h("input", { name: "name", maxlength: 200, autocomplete: "off", value: sub?.name ?? "",
      placeholder: adding ? "The source's own title" : "", "data-testid": "sub-name-input" }),
    quality: select("quality", QUALITIES, QUALITY_LABELS, sub?.quality || "best", "sub-quality"),
    audio_format: select("audio_format", AUDIO_FORMATS, {}, sub?.audio_format || "mp3", "sub-format"),
    keep_last: number("keep_last", sub?.keep_last, { min: 1, max: 10000, placeholder: "all", testid: "sub-keep-last" }),
    max_age_days: number("max_age_days", sub?.max_age_days, { min: 1, max: 36500, placeholder: "any age",
      testid: "sub-max-age" }),
    include: h("input", { name: "include", maxlength: 500, autocomplete: "off", value: sub?.include ?? "",
      placeholder: "anything", "data-testid": "sub-include" }),
    exclude: h("input", { name: "exclude", maxlength: 500, autocomplete: "off", value: sub?.exclude ?? "",
      placeholder: "nothing", "data-testid": "sub-exclude" }),
    sponsorblock: select("sponsorblock", Object.keys(SPONSORBLOCK), SPONSORBLOCK, sub?.sponsorblock || "",
      "sub-sponsorblock"),
    interval_s: number("interval_s", sub ? +(sub.interval_s / 3600).toFixed(2) : null,
      { min: 0.25, max: 720, step: "any", placeholder: adding ? "the server's default" : "", testid: "sub-interval" }),
    backfill: adding ? number("backfill", 0, { min: 0, max: 5000, testid: "sub-backfill" }) : null,
  };
  // Adding: "auto" sends no mode (podcasts then come as audio, channels and playlists as video).
  const modeValues = adding ? ["auto", "video", "audio"] : ["video", "audio"];
  const modeLabels = { auto: "Auto", video: "Video", audio: "Audio" };
  const modes = modeValues.map((m) => h("input", { type: "radio", name: "mode", value: m,
    checked: m === (sub?.mode || "auto"), "data-testid": `sub-mode-${m}` }));
  const errors = Object.fromEntries(FIELDS.map((k) => [k, h("p", { class: "form-error small sub-field-error",
    "data-testid": `sub-error-${k}`, hidden: true })]));
  const message = h("p", { class: "form-error", role: "alert", "data-testid": "sub-form-error", hidden: true });
  const fields = {
    quality: field("Quality", f.quality, "quality", adding ? "For video." : null),
    audio_format: field("Audio format", f.audio_format, "audio_format", adding ? "For audio." : null),
  };
  const mode = () => modes.find((m) => m.checked)?.value || modeValues[0];
  function sync() {
    fields.quality.hidden = mode() === "audio";
    fields.audio_format.hidden = mode() === "video";
  }
  modes.forEach((m) => m.addEventListener("change", sync));

  function field(label, input, key, help = null) {
    return h("label", { class: "field sub-field", dataset: { field: key } }, label, input,
      help ? h("span", { class: "sub-help small" }, help) : null, errors[key]);
  }

  const submit = h("button", { type: "submit", class: "btn primary", "data-testid": adding ? "sub-add" : "sub-save" },
    submitLabel);
  const el = h("form", { class: `sub-form${adding ? "" : " sub-edit-form"}`, novalidate: true,
    "aria-label": adding ? "Add a subscription" : "Change the rule", "data-testid": adding ? "sub-add-form" : "sub-edit-form" },
    adding ? h("div", { class: "sub-url-row" },
      field("Address of a channel, a playlist or a podcast's RSS/Atom feed", f.url, "url")) : null,
    h("div", { class: "sub-fields" },
      field("Name", f.name, "name", adding ? "Optional: shown in the list and used as the album." : null),
      h("div", { class: "field sub-field", dataset: { field: "mode" } }, "Download as",
        h("div", { class: "segmented sub-mode", role: "radiogroup", "aria-label": "Download as" },
          modes.map((m) => h("label", {}, m, modeLabels[m.value]))),
        adding ? h("span", { class: "sub-help small" }, "Auto: podcasts as audio, channels and playlists as video.") : null,
        errors.mode),
      fields.quality, fields.audio_format,
      field("Keep the newest", f.keep_last, "keep_last", "Older downloads are removed. Empty: keep all."),
      field("Newer than (days)", f.max_age_days, "max_age_days", "Older entries are skipped and removed. Empty: any age."),
      field("Only titles with", f.include, "include", PATTERN_HELP),
      field("Never titles with", f.exclude, "exclude", PATTERN_HELP),
      field("Sponsor segments (SponsorBlock)", f.sponsorblock, "sponsorblock", "YouTube videos only."),
      field("Check every (hours)", f.interval_s, "interval_s", "How often to look for new entries, e.g. 0.5 or 24."),
      adding ? field("Download the newest already there", f.backfill, "backfill",
        "On the first check; the rest is only noted, never downloaded. 0: only what comes next.") : null),
    message,
    h("div", { class: "sub-form-actions" },
      onCancel ? h("button", { type: "button", class: "btn ghost", "data-testid": "sub-cancel", onclick: onCancel },
        "Cancel") : null,
      submit));
  el.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors();
    submit.disabled = true;
    try { await onSubmit(body()); }
    finally { submit.disabled = false; }
  });
  sync();

  // The request's body. Adding sends only what was given; editing sends the whole rule, an emptied
  // optional field as null (the API clears it then).
  function body() {
    const text = (input) => input.value.trim();
    const num = (input) => (input.value.trim() === "" ? null : Number(input.value));
    const out = {};
    if (adding) out.url = text(f.url);
    if (text(f.name)) out.name = text(f.name);
    if (mode() !== "auto") out.mode = mode();
    if (mode() !== "audio") out.quality = f.quality.value;
    if (mode() !== "video") out.audio_format = f.audio_format.value;
    const optional = { keep_last: num(f.keep_last), max_age_days: num(f.max_age_days), include: text(f.include) || null,
      exclude: text(f.exclude) || null, sponsorblock: f.sponsorblock.value || null };
    for (const [k, v] of Object.entries(optional)) if (v !== null || !adding) out[k] = v;
    const hours = num(f.interval_s);
    if (hours !== null) out.interval_s = Math.round(hours * 3600);
    if (adding && num(f.backfill)) out.backfill = num(f.backfill);
    return out;
  }

  function clearErrors() {
    Object.values(errors).forEach((p) => { p.textContent = ""; p.hidden = true; });
    message.textContent = "";
    message.hidden = true;
  }

  // An API error: a 422's fields under their inputs; a 400 (cannot follow) or 409 (followed already) is
  // about the address, so under it when there is one; the rest (503, network) in the message line.
  function showError(err) {
    clearErrors();
    const named = (err?.details?.fields || []).map((x) => ({ key: String(x.field || "").split(".").pop(), reason: x.reason }));
    const placed = named.filter((x) => errors[x.key] && !(x.key === "mode" && !modes.length));
    placed.forEach(({ key, reason }) => {
      const p = errors[key];
      p.textContent = p.textContent ? `${p.textContent}; ${readable(key, reason)}` : readable(key, reason);
      p.hidden = false;
    });
    const aboutUrl = adding && (err?.status === 400 || err?.status === 409);
    if (aboutUrl) { errors.url.textContent = err.message; errors.url.hidden = false; }
    const rest = named.filter((x) => !placed.includes(x));
    if (!placed.length && !aboutUrl) {
      message.textContent = rest.length ? rest.map((x) => `${x.key}: ${x.reason}`).join("; ") : err?.message || "Something went wrong.";
      message.hidden = false;
    }
    (el.querySelector(".sub-field-error:not([hidden])")?.closest("label")?.querySelector("input, select") || null)?.focus();
  }

  function reset() {
    el.reset();  // values set as properties reset to empty: the defaults go back in by hand
    modes[0].checked = true;
    if (f.backfill) f.backfill.value = "0";
    clearErrors();
    sync();
  }

  return { el, body, showError, clearErrors, reset };
}

// Pydantic says a bad address "should match pattern '^\s*[Hh]...'": the rule in words instead.
function readable(key, reason) {
  if (key === "url" && /pattern/i.test(reason)) return "Give the full address, starting with http:// or https://";
  return reason;
}

function select(name, values, labels, wanted, testid) {
  return h("select", { name, "data-testid": testid },
    values.map((v) => h("option", { value: v, selected: v === wanted }, labels[v] || v)));
}

function number(name, value, { min, max, step = 1, placeholder = "", testid }) {
  return h("input", { name, type: "number", min, max, step, inputmode: step === 1 ? "numeric" : "decimal",
    value: value ?? "", placeholder, class: "sub-number", "data-testid": testid });
}

// The rule in a few words, for the list.
export function ruleSummary(sub) {
  const hours = sub.interval_s / 3600;
  const every = hours >= 24 && hours % 24 === 0 ? `${hours / 24} d` : `${+hours.toFixed(2)} h`;
  return [
    sub.mode === "audio" ? `audio · ${sub.audio_format || "mp3"}` : `video · ${QUALITY_LABELS[sub.quality] || sub.quality}`,
    sub.keep_last ? `keeps the newest ${sub.keep_last}` : null,
    sub.max_age_days ? `newer than ${sub.max_age_days} day${sub.max_age_days === 1 ? "" : "s"}` : null,
    sub.include ? `only “${sub.include}”` : null,
    sub.exclude ? `never “${sub.exclude}”` : null,
    sub.sponsorblock === "remove" ? "sponsors cut" : sub.sponsorblock === "mark" ? "sponsors as chapters" : null,
    `checked every ${every}`,
  ].filter(Boolean).join(" · ");
}
