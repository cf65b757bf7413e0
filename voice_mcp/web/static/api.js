// The public HTTP API: authorised fetches, errors in words, and command streams that survive a
// dropped connection (GET /api/voice/commands/{id}/events with Last-Event-ID).

import { token } from "./auth.js";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const SIGN_IN_HELP = "Your sign-in expired or is missing: get a new console link by restarting " +
  "`voice-mcp serve` (it prints one), or a token with `voice-mcp token --user you`, then open " +
  "http://HOST:PORT/#token=<token>.";

/** What to tell a person about a failed request. */
export function explain(status, code, message) {
  if (status === 401) return SIGN_IN_HELP;
  if (status === 429) return `Too many commands at once. ${message || "Wait a moment and try again."}`;
  if (status === 0) return "Cannot reach the server. Check that it is running, then try again.";
  return message || `The server answered ${status}${code ? ` (${code})` : ""}.`;
}

export async function apiFetch(path, init = {}) {
  const headers = new Headers(init.headers || {});
  if (token()) headers.set("Authorization", `Bearer ${token()}`);
  let response;
  try {
    response = await fetch(path, { ...init, headers, credentials: "same-origin" });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, "network", explain(0));
  }
  if (!response.ok) {
    let code = "", message = "";
    try {
      const body = await response.json();
      code = body.error?.code || "";
      message = body.error?.message || "";
    } catch { /* not JSON */ }
    if (response.status === 429 && response.headers.get("Retry-After")) {
      message = `Try again in ${response.headers.get("Retry-After")} s.`;
    }
    throw new ApiError(response.status, code, explain(response.status, code, message));
  }
  return response;
}

export async function getJson(path) {
  return (await apiFetch(path, { headers: { Accept: "application/json" } })).json();
}

/** Parse a text/event-stream body into {id, event, data} records (comments skipped). */
export async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let record = { id: null, event: "message", data: [] };
  for (;;) {
    const { value, done } = await reader.read();
    if (done && !buffer.endsWith("\r")) return; // an event without its blank line is dropped
    buffer += done ? "\n" : value;                // a last lone \r ends its line
    let newline;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      if (newline === buffer.length - 1 && buffer.endsWith("\r")) break; // maybe half of \r\n
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
      if (line === "") {
        if (record.data.length) yield { id: record.id, event: record.event, data: record.data.join("\n") };
        record = { id: record.id, event: "message", data: [] };
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "data") record.data.push(val);
      else if (field === "event") record.event = val;
      else if (field === "id") record.id = val;
    }
  }
}

const sleep = (msec) => new Promise((resolve) => setTimeout(resolve, msec));
export const RETRY_DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000];

/** The records of an SSE response, or of a source that reads them itself (the listen
 *  socket's `events()`: records whose data is already parsed). */
function recordsOf(source) {
  return typeof source.events === "function" ? source.events() : readEvents(source);
}

/**
 * Run one command stream to its `done`.
 * open(): Promise<Response | ListenSocket> starts it (an SSE response, or the listen socket
 * whose events carry the same records). handlers: event(kind, data), reconnecting(attempt,
 * delayMs), reconnected(), lost(message). A dropped stream is resumed from the last event id
 * it saw, over SSE whichever way it started.
 */
export async function followCommand(open, handlers) {
  let lastId = null, commandId = null, attempt = 0;
  let response = await open();
  for (;;) {
    if (response) {
      try {
        for await (const record of recordsOf(response)) {
          if (record.id !== null && lastId !== null && Number(record.id) <= Number(lastId)) continue;
          if (record.id !== null) lastId = record.id;
          let data;
          try { data = typeof record.data === "string" ? JSON.parse(record.data) : record.data; } catch { continue; }
          if (!commandId && data && typeof data.commandId === "string") commandId = data.commandId;
          attempt = 0;
          handlers.event(record.event, data);
          if (record.event === "done") return;
        }
      } catch (err) {
        if (err && err.name === "AbortError") throw err;
      }
    }
    if (!commandId) {
      handlers.lost("The connection dropped before the server named the command, so it cannot be resumed.");
      return;
    }
    if (attempt >= RETRY_DELAYS_MS.length) {
      handlers.lost("The connection dropped and could not be resumed.");
      return;
    }
    const delay = RETRY_DELAYS_MS[attempt++];
    handlers.reconnecting(attempt, delay);
    await sleep(delay);
    response = null;
    try {
      const headers = { Accept: "text/event-stream" };
      if (lastId !== null) headers["Last-Event-ID"] = lastId;
      response = await apiFetch(`/api/voice/commands/${encodeURIComponent(commandId)}/events`, { headers });
      handlers.reconnected(lastId);
    } catch (err) {
      if (err instanceof ApiError && err.status !== 0 && err.status < 500) {
        handlers.lost(err.message);
        return;
      }
    }
  }
}
