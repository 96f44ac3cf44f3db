// The UI's icons as inline SVG (24×24, drawn for MediaNest): no icon font or emoji, which some systems
// lack, and `currentColor` so they follow the theme. `icon(name)` returns an <svg> element.
const NS = "http://www.w3.org/2000/svg";
const FILLED = new Set(["play", "pause", "prev", "next", "heart-on"]);
const PATHS = {
  play: "M7 4v16l13-8z",
  pause: "M6 4h4v16H6zM14 4h4v16h-4z",
  prev: "M5 5h2v14H5zM19 5 9 12l10 7z",
  next: "M17 5h2v14h-2zM5 5l10 7-10 7z",
  shuffle: "M3 7h4l10 10h4M3 17h4l3-3M14 10l3-3h4M18 4l3 3-3 3M18 14l3 3-3 3",
  repeat: "M4 11V9a2 2 0 0 1 2-2h13M16 4l3 3-3 3M20 13v2a2 2 0 0 1-2 2H5M8 20l-3-3 3-3",
  "repeat-one": "M4 11V9a2 2 0 0 1 2-2h13M16 4l3 3-3 3M20 13v2a2 2 0 0 1-2 2H5M8 20l-3-3 3-3M11 10.5l1.5-1V15",
  volume: "M4 9h4l5-4v14l-5-4H4zM16 9a4 4 0 0 1 0 6M18.5 6.5a8 8 0 0 1 0 11",
  mute: "M4 9h4l5-4v14l-5-4H4zM17 9l5 6M22 9l-5 6",
  queue: "M4 6h16M4 12h10M4 18h10M17 14v6l4-3z",
  heart: "M12 20s-7-4.5-9-9a4.5 4.5 0 0 1 9-3 4.5 4.5 0 0 1 9 3c-2 4.5-9 9-9 9z",
  "heart-on": "M12 20s-7-4.5-9-9a4.5 4.5 0 0 1 9-3 4.5 4.5 0 0 1 9 3c-2 4.5-9 9-9 9z",
  more: "M5 12h.01M12 12h.01M19 12h.01",
  music: "M9 18V5l11-2v13M9 18a3 3 0 1 1-6 0 3 3 0 0 1 6 0zM20 16a3 3 0 1 1-6 0 3 3 0 0 1 6 0z",
  film: "M3 5h18v14H3zM7 5v14M17 5v14M3 9h4M3 15h4M17 9h4M17 15h4",
  headphones: "M4 16v-4a8 8 0 0 1 16 0v4M4 15h3v5H4zM17 15h3v5h-3z",
  podcast: "M12 3a3 3 0 0 1 3 3v5a3 3 0 0 1-6 0V6a3 3 0 0 1 3-3zM6 11a6 6 0 0 0 12 0M12 17v4M9 21h6",
  library: "M4 4v16M9 4v16M14 5l5 15",
  clock: "M12 3a9 9 0 1 1 0 18 9 9 0 0 1 0-18zM12 7v5l3 2",
  chart: "M5 20V11M11 20V5M17 20v-7M3 20h18",
  history: "M3 12a9 9 0 1 0 2.6-6.4L3 8M3 3v5h5M12 7v5l3 2",
  playlist: "M4 6h12M4 11h12M4 16h7M15 19a2 2 0 1 0 0-.01M17 19V9l4-1",
  download: "M12 3v12M7 10l5 5 5-5M4 20h16",
  ticket: "M4 6h16v4a2 2 0 0 0 0 4v4H4v-4a2 2 0 0 0 0-4zM14 6v12",
  signal: "M4 20v-4M9 20v-8M14 20V8M19 20V4",
  users: "M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM2 21a7 7 0 0 1 14 0M16 3.5a4 4 0 0 1 0 7.5M22 21a7 7 0 0 0-4-6.3",
  plug: "M9 2v6M15 2v6M6 8h12v4a6 6 0 0 1-12 0zM12 18v4",
  folder: "M3 6a1 1 0 0 1 1-1h5l2 2h9a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1z",
  audit: "M6 3h12v18l-3-2-3 2-3-2-3 2zM9 8h6M9 12h6",
  menu: "M4 6h16M4 12h16M4 18h16",
  theme: "M12 3a9 9 0 1 1 0 18 9 9 0 0 1 0-18zM12 3v18",
  plus: "M12 5v14M5 12h14",
  close: "M6 6l12 12M18 6 6 18",
  expand: "M14 4h6v6M20 4l-7 7M10 20H4v-6M4 20l7-7",
  offline: "M3 3l18 18M8.5 8.6A5 5 0 0 0 7 12.5M5 5.5A9 9 0 0 0 3 12M16.4 10.5A5 5 0 0 1 17 12.5M19 7a9 9 0 0 1 2 5M12 16h.01",
  drag: "M9 6h.01M15 6h.01M9 12h.01M15 12h.01M9 18h.01M15 18h.01",
  file: "M6 3h8l4 4v14H6zM14 3v4h4",
  rss: "M5 11a8 8 0 0 1 8 8M5 4a15 15 0 0 1 15 15M6 18h.01",
  search: "M11 4a7 7 0 1 1 0 14 7 7 0 0 1 0-14zM16 16l5 5",
};

export function icon(name, cls = "icon") {
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", cls);
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(NS, "path");
  path.setAttribute("d", PATHS[name] || PATHS.more);
  if (FILLED.has(name)) path.setAttribute("fill", "currentColor");
  else {
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", name === "more" || name === "drag" ? "3" : "2");
    path.setAttribute("stroke-linecap", "round");
    path.setAttribute("stroke-linejoin", "round");
  }
  svg.append(path);
  return svg;
}
