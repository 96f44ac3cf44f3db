// Socket.IO: one connection per signed-in tab, authenticated with the access token (re-read on each
// (re)connect, so a refreshed token is used); rooms re-joined after every reconnect.
import { io } from "../vendor/socket.io.esm.min.js";
import { accessToken, refreshSession } from "./api.js";

let socket = null;
const handlers = new Map();
const rooms = new Map();

function dispatch(event, payload) {
  (handlers.get(event) || []).forEach((fn) => {
    try { fn(payload); } catch (err) { console.warn("handler for", event, "failed", err); }
  });
}

export function connect() {
  if (socket) return;
  socket = io({ path: "/socket.io", transports: ["websocket", "polling"],
    auth: (cb) => cb({ token: accessToken() }) });
  socket.onAny(dispatch);
  socket.on("connect", () => {
    for (const room of rooms.keys()) socket.emit("subscribe", { room });
    dispatch("_connected", {});
  });
  socket.on("connect_error", async () => {
    if (socket?.active) return;  // a network error: socket.io retries by itself
    // Refused by the server: most likely an expired access token. Refresh once and try again.
    try {
      await refreshSession();
      setTimeout(() => socket?.connect(), 500);
    } catch { /* signed out: the router shows the sign-in page */ }
  });
  socket.on("disconnect", (reason) => {
    // Ended by the server (its access token ran out, or the account changed): socket.io does not come
    // back by itself then. Reconnect with the current token; a refusal goes through connect_error above.
    if (reason === "io server disconnect") setTimeout(() => socket?.connect(), 500);
  });
}

export function disconnect() {
  socket?.disconnect();
  socket = null;
}

export function on(event, fn) {
  if (!handlers.has(event)) handlers.set(event, new Set());
  handlers.get(event).add(fn);
  return () => handlers.get(event).delete(fn);
}

export function subscribe(room) {
  rooms.set(room, (rooms.get(room) || 0) + 1);
  if (socket?.connected) socket.emit("subscribe", { room });
  return () => {
    const n = (rooms.get(room) || 1) - 1;
    if (n > 0) { rooms.set(room, n); return; }
    rooms.delete(room);
    if (socket?.connected) socket.emit("unsubscribe", { room });
  };
}
