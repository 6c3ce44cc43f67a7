// The client's entry: boot, create or resume a character, send actions, handle errors as a player expects.

import * as api from "./api.js";
import { commandLine } from "./commandline.js";
import { byId } from "./dom.js";
import { currentLanguage, setLanguage, t } from "./i18n.js";
import { renderMap } from "./map.js";
import { renderInventory, renderScene, renderStatus, renderSuggestions } from "./render.js";
import { state, subscribe, update } from "./state.js";
import * as storage from "./storage.js";
import * as story from "./story.js";
import { describe, exportTranscript, renderTranscript } from "./transcript.js";

/** Waits before each retry of an action the server did not answer (it may be restarting). */
const RETRY_WAITS = [1, 2, 4, 8];

const sceneCache = new Map();
let lawNames = {};
let noticeTimer = null;
let cooldownUntil = 0;

function notice(message, { sticky = false } = {}) {
  const box = byId("notice");
  clearTimeout(noticeTimer);
  box.textContent = message;
  box.hidden = !message;
  if (message && !sticky) noticeTimer = setTimeout(() => (box.hidden = true), 8000);
}

const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

/** An Idempotency-Key from the browser's CSPRNG (works on plain http too, unlike randomUUID). */
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Ids to the world's names (scenes, items, the NPCs and monsters of scenes seen) and intents to verbs. */
function names() {
  const found = {};
  for (const scene of state.world.scenes) found[scene.id] = scene.name;
  for (const item of Object.values(state.world.items)) found[item.id] = item.name;
  for (const scene of sceneCache.values()) {
    for (const who of [...(scene?.npcs ?? []), ...(scene?.monsters ?? [])]) found[who.id] = who.name;
  }
  for (const intent of ["move", "talk", "attack", "buy", "sell", "use_item", "equip", "unequip", "look", "cultivate", "explore", "rest", "breakthrough"]) {
    found[`intent:${intent}`] = t(`intent_${intent}`);
  }
  return found;
}

// -- rendering --------------------------------------------------------------------------------------------

function render(current) {
  const playing = Boolean(current.session && current.player);
  byId("game").hidden = !playing;
  byId("welcome").hidden = playing;
  byId("forget").hidden = !current.session;
  byId("send").disabled = current.busy;
  if (!playing) return;
  renderStatus(current.player);
  renderSuggestions(current.suggestions, choose, current.busy);
  renderScene(current.scene, current.player, current.suggestions, choose, current.busy);
  renderInventory(current.player, current.world.items, current.scene, perform, current.busy);
  renderMap(current.world, current.player, (scene) => perform({ intent: "move", slots: { target: scene.id } }, `${t("group_move")} ${scene.name}`));
}

subscribe(render);

async function loadScene(sceneId) {
  if (!sceneId) return null;
  if (!sceneCache.has(sceneId)) {
    try {
      sceneCache.set(sceneId, (await api.getScene(sceneId)).scene);
    } catch {
      return null; // the panel then shows the player's own location name; suggestions still come from the answer
    }
  }
  return sceneCache.get(sceneId);
}

async function loadWorld() {
  const [scenes, laws, realms, items] = await Promise.allSettled([
    api.getScenes(), api.getLaws(), api.getRealms(), api.getItems(),
  ]);
  const world = {
    scenes: scenes.status === "fulfilled" ? scenes.value.scenes : [],
    laws: laws.status === "fulfilled" ? laws.value.laws : [],
    realms: realms.status === "fulfilled" ? realms.value.realms : [],
    items: items.status === "fulfilled" ? Object.fromEntries(items.value.items.map((item) => [item.id, item])) : {},
  };
  lawNames = Object.fromEntries(world.laws.map((law) => [law.id, law.name]));
  update({ world });
}

// -- actions ----------------------------------------------------------------------------------------------

/** Send one action; retried with the same Idempotency-Key while the server is away. True once it is answered. */
async function perform(command, label) {
  if (state.busy) {
    notice(t("busy"));
    return false;
  }
  const wait = Math.ceil((cooldownUntil - Date.now()) / 1000);
  if (wait > 0) {
    notice(t("rate_limited", { seconds: wait }));
    return false;
  }
  const key = newKey();
  story.said(label);
  update({ busy: true });
  let line = null;
  try {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const answer = await api.act(state.session, command, key, (text) => {
          line ??= story.streaming();
          line.add(text);
        });
        line?.finish();
        line = null;
        await accept(answer);
        notice("");
        return true;
      } catch (error) {
        line?.finish();
        line = null;
        if (!(error instanceof api.ApiError)) throw error;
        if (error.transient && attempt < RETRY_WAITS.length) {
          notice(t("restarting", { seconds: RETRY_WAITS[attempt] }), { sticky: true });
          await sleep(RETRY_WAITS[attempt]);
          continue;
        }
        failed(error);
        return false;
      }
    }
  } finally {
    update({ busy: false });
  }
}

function failed(error) {
  if (error.status === 429) {
    const seconds = Math.max(1, Math.ceil(error.retryAfter ?? 1));
    cooldownUntil = Date.now() + seconds * 1000;
    notice(t("rate_limited", { seconds }));
  } else if (error.tokenLost) {
    lostToken();
  } else if (error.transient) {
    notice(t("gave_up"), { sticky: true });
  } else {
    notice(t("error", { message: error.message }));
  }
}

async function accept(answer) {
  story.answer(answer, lawNames);
  const scene = answer.player.location === state.player?.location && state.scene ? state.scene : await loadScene(answer.player.location);
  storage.saveLast(answer.player.version, answer.suggestions ?? []);
  update({ player: answer.player, suggestions: answer.suggestions ?? [], scene });
}

function choose(suggestion) {
  perform({ intent: suggestion.intent, slots: suggestion.slots ?? {} }, suggestion.text);
}

// -- characters -------------------------------------------------------------------------------------------

function lostToken() {
  storage.forgetSession();
  update({ session: null, player: null, suggestions: [], scene: null });
  notice(t("token_lost"), { sticky: true });
}

async function create(name) {
  try {
    const body = await api.createPlayer(name);
    const session = { id: body.player.id, token: body.token };
    storage.saveSession(session);
    story.clear();
    update({ session, player: body.player, scene: await loadScene(body.player.location), suggestions: [] });
    story.system(t("created", { name: body.player.name, root: body.player.root_name ?? body.player.root }));
    notice("");
    await perform({ intent: "look" }, t("look"));
  } catch (error) {
    if (error instanceof api.ApiError) failed(error);
    else throw error;
  }
}

async function resume(session) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const { player } = await api.getPlayer(session);
      update({ session, player, scene: await loadScene(player.location) });
      break;
    } catch (error) {
      if (!(error instanceof api.ApiError)) throw error;
      if (error.tokenLost) return lostToken();
      if (error.transient && attempt < RETRY_WAITS.length) {
        notice(t("restarting", { seconds: RETRY_WAITS[attempt] }), { sticky: true });
        await sleep(RETRY_WAITS[attempt]);
        continue;
      }
      return failed(error);
    }
  }
  notice("");
  story.clear();
  const entries = await loadTranscript();
  for (const entry of entries.slice(-8)) {
    story.said(describe(entry, names()));
    story.answer({ intent: entry.intent, narration: entry.outcome?.narration ?? "" }, lawNames);
  }
  story.system(t("welcome_back", { name: state.player.name }));
  const last = storage.loadLast();
  if (last && last.version === state.player.version && Array.isArray(last.suggestions) && last.suggestions.length) {
    update({ suggestions: last.suggestions });
  } else {
    await perform({ intent: "look" }, t("look"));
  }
}

async function loadTranscript() {
  const entries = [];
  let after = 0;
  try {
    for (let page = 0; page < 20; page += 1) {
      const body = await api.getLog(state.session, after);
      entries.push(...body.entries);
      if (body.next_after === null || body.next_after === undefined) break;
      after = body.next_after;
    }
  } catch (error) {
    if (error instanceof api.ApiError && error.tokenLost) lostToken();
  }
  update({ transcript: entries });
  renderTranscript(entries, names());
  return entries;
}

// -- page wiring ------------------------------------------------------------------------------------------

function wireTabs() {
  const tabs = [...document.querySelectorAll("[role=tab]")];
  for (const tab of tabs) {
    tab.addEventListener("click", () => {
      for (const other of tabs) {
        const selected = other === tab;
        other.setAttribute("aria-selected", String(selected));
        byId(other.getAttribute("aria-controls")).hidden = !selected;
      }
      if (tab.id === "tab-log") loadTranscript();
    });
  }
}

function wire() {
  const line = commandLine(async (text) => {
    if (await perform({ text }, text)) line.accepted(text);
  });
  byId("create-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = byId("name-input").value.trim();
    if (name) create(name);
  });
  byId("lang-toggle").addEventListener("click", () => {
    const next = currentLanguage() === "zh" ? "en" : "zh";
    storage.saveLanguage(next);
    setLanguage(next);
    render(state);
    renderTranscript(state.transcript, names());
  });
  byId("forget").addEventListener("click", () => {
    if (!window.confirm(t("forget_confirm"))) return;
    storage.forgetSession();
    story.clear();
    update({ session: null, player: null, suggestions: [], scene: null, transcript: [] });
  });
  byId("log-refresh").addEventListener("click", () => loadTranscript());
  byId("log-export").addEventListener("click", async () => {
    const entries = await loadTranscript();
    if (state.player) exportTranscript(state.player, entries, names());
  });
  wireTabs();
  return line;
}

async function boot() {
  setLanguage(storage.loadLanguage());
  const line = wire();
  await loadWorld();
  const session = storage.loadSession();
  if (session) await resume(session);
  else update({});
  if (state.player) line.focus();
  else byId("name-input").focus();
  document.body.dataset.ready = "true";
}

boot();
