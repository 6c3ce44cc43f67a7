// The game's HTTP API, as the page uses it. The token travels in the Authorization header only.

import { readEvents } from "./sse.js";

/** A failed call: HTTP status (0 when the server could not be reached), error code, message, Retry-After. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  /** The server is away or restarting: worth retrying with the same Idempotency-Key. */
  get transient() {
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504;
  }

  /** The remembered token no longer opens the player. */
  get tokenLost() {
    return this.status === 401 || this.status === 403 || (this.status === 404 && this.code === "player_not_found");
  }
}

async function send(method, path, { body, token, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, cache: "no-store" };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, "unreachable", String(error));
  }
  if (!response.ok) throw await failure(response);
  return response;
}

async function failure(response) {
  let code = `http_${response.status}`;
  let message = response.statusText;
  try {
    const body = await response.json();
    code = body.error?.code ?? code;
    message = body.error?.message ?? message;
  } catch {
    // not JSON (a proxy's page while the app restarts): keep the status line
  }
  const wait = Number.parseFloat(response.headers.get("Retry-After") ?? "");
  return new ApiError(response.status, code, message, Number.isFinite(wait) ? wait : null);
}

async function json(method, path, options) {
  return (await send(method, path, options)).json();
}

export const createPlayer = (name) => json("POST", "/api/players", { body: { name } });
export const getPlayer = (session) => json("GET", `/api/players/${encodeURIComponent(session.id)}`, session);
export const getLog = (session, after = 0) =>
  json("GET", `/api/players/${encodeURIComponent(session.id)}/log?after=${after}&limit=500`, session);
export const getScenes = () => json("GET", "/api/world/scenes");
export const getScene = (id) => json("GET", `/api/world/scenes/${encodeURIComponent(id)}`);
export const getLaws = () => json("GET", "/api/world/laws");
export const getRealms = () => json("GET", "/api/world/realms");
export const getItems = () => json("GET", "/api/world/items");

/**
 * One action, streamed: `onNarration(text)` gets the narration as it is written, the promise the final answer.
 * `command` is `{text}` or `{intent, slots}`; `key` is the Idempotency-Key, the same on every retry.
 */
export async function act(session, command, key, onNarration) {
  const response = await send("POST", `/api/players/${encodeURIComponent(session.id)}/act`, {
    body: command,
    token: session.token,
    headers: { Accept: "text/event-stream", "Idempotency-Key": key },
  });
  if (!(response.headers.get("Content-Type") ?? "").startsWith("text/event-stream")) return response.json();
  for await (const { event, data } of readEvents(response.body)) {
    const payload = JSON.parse(data);
    if (event === "narration") onNarration(payload.text);
    else if (event === "answer") return payload;
    else if (event === "error") throw new ApiError(502, payload.error?.code ?? "stream_error", payload.error?.message);
  }
  throw new ApiError(0, "stream_cut", "the answer stream ended early");
}
