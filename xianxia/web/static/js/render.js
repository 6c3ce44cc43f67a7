// Panels drawn from the state: the player's status, the suggestions, the scene and the inventory.

import { byId, el, replaceChildren } from "./dom.js";
import { known, t } from "./i18n.js";

/** Player fields the status panel shows in its own places; any other field goes to the generic list. */
const SHOWN = new Set([
  "id", "name", "realm", "realm_name", "stage", "stage_name", "qi", "qi_max", "hp", "max_hp", "attack",
  "defense", "spirit_stones", "location", "location_name", "inventory", "root", "root_name", "karma", "version",
]);

/** How suggestions are grouped in the scene panel, by intent. */
const GROUPS = ["move", "talk", "attack", "buy", "sell", "use_item"];

export function renderStatus(player) {
  if (!player) return;
  byId("player-name").textContent = player.name;
  byId("player-root").textContent = player.root_name ?? player.root ?? "";
  byId("player-realm").textContent = player.stage_name ?? `${player.realm_name ?? player.realm} ${player.stage ?? ""}`;
  byId("player-location").textContent = player.location_name ?? player.location;
  byId("player-stones").textContent = String(player.spirit_stones ?? 0);
  byId("player-attack").textContent = String(player.attack ?? "");
  byId("player-defense").textContent = String(player.defense ?? "");
  byId("player-karma").textContent = String(player.karma ?? 0);
  meter("qi", player.qi, player.qi_max);
  meter("hp", player.hp, player.max_hp);
  renderExtra(player);
}

function meter(name, value, max) {
  const bar = byId(`${name}-bar`);
  const top = Math.max(1, Number(max) || 1);
  bar.max = top;
  bar.value = Math.min(top, Math.max(0, Number(value) || 0));
  byId(`${name}-text`).textContent = `${value ?? 0} / ${max ?? "?"}`;
  byId(`${name}-meter`).classList.toggle("low", name === "hp" && bar.value / top < 0.3);
  byId(`${name}-meter`).classList.toggle("full", name === "qi" && bar.value >= top);
}

/** Whatever else the player document carries (equipment, quests, ...), drawn from its shape alone. */
function renderExtra(player) {
  const box = byId("player-extra");
  const sections = [];
  for (const [key, value] of Object.entries(player)) {
    if (SHOWN.has(key) || value === null || value === undefined) continue;
    const label = known(`detail_${key}`) ? t(`detail_${key}`) : key.replaceAll("_", " ");
    const empty = typeof value === "object" && Object.keys(value).length === 0;
    sections.push(
      el("section", { class: empty ? "detail empty" : "detail", dataset: { field: key } }, el("h3", { text: label }), describe(value)),
    );
  }
  replaceChildren(box, sections);
}

function describe(value) {
  if (Array.isArray(value)) {
    if (!value.length) return el("p", { class: "muted small", text: t("none") });
    return el("ul", { class: "plain" }, value.map((item) => el("li", {}, describe(item))));
  }
  if (value && typeof value === "object") {
    const entries = Object.entries(value);
    if (!entries.length) return el("p", { class: "muted small", text: t("none") });
    // An object with a name (a quest, an item) reads as its name and the rest in brackets.
    if ("name" in value || "title" in value) {
      const rest = entries.filter(([k]) => k !== "name" && k !== "title" && k !== "id");
      return el(
        "span",
        {},
        el("strong", { text: value.name ?? value.title }),
        rest.length ? el("span", { class: "muted small", text: ` ${rest.map(([k, v]) => `${k}: ${flat(v)}`).join(" · ")}` }) : null,
      );
    }
    return el("dl", { class: "pairs" }, entries.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, describe(v))]));
  }
  return el("span", { text: value === "" ? "—" : String(value) });
}

function flat(value) {
  if (value && typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Every suggestion as a button that sends that action. */
export function renderSuggestions(suggestions, onChoose, busy) {
  const box = byId("suggestions");
  replaceChildren(
    box,
    suggestions.map((suggestion) =>
      el("button", {
        type: "button",
        class: `chip intent-${suggestion.intent}`,
        dataset: { intent: suggestion.intent },
        disabled: busy,
        text: suggestion.text,
        onclick: () => onChoose(suggestion),
      }),
    ),
  );
}

/** The scene panel: its name and description, and the suggestions grouped by what they do here. */
export function renderScene(scene, player, suggestions, onChoose, busy) {
  byId("scene-name").textContent = scene?.name ?? player?.location_name ?? "";
  byId("scene-description").textContent = scene?.description ?? "";
  const groups = new Map([...GROUPS, "other"].map((name) => [name, []]));
  for (const suggestion of suggestions) groups.get(GROUPS.includes(suggestion.intent) ? suggestion.intent : "other").push(suggestion);
  const sections = [];
  for (const [name, items] of groups) {
    if (!items.length) continue;
    sections.push(
      el(
        "section",
        { class: "group", dataset: { group: name } },
        el("h4", { text: t(`group_${name}`) }),
        el(
          "div",
          { class: "group-buttons" },
          items.map((suggestion) =>
            el("button", {
              type: "button",
              class: "ghost small",
              disabled: busy,
              text: suggestion.text,
              onclick: () => onChoose(suggestion),
            }),
          ),
        ),
      ),
    );
  }
  replaceChildren(byId("scene-groups"), sections);
}

/** The inventory with use and sell buttons; sell only where the scene's shop buys. */
export function renderInventory(player, items, scene, onCommand, busy) {
  const list = byId("inventory");
  const entries = Object.entries(player?.inventory ?? {}).filter(([, count]) => count > 0);
  if (!entries.length) {
    replaceChildren(list, el("li", { class: "muted", text: t("inventory_empty") }));
    return;
  }
  const canSell = Boolean(scene?.shop?.buys);
  replaceChildren(
    list,
    entries.map(([id, count]) => {
      const item = items[id] ?? { name: id };
      return el(
        "li",
        { class: "item", dataset: { item: id } },
        el("div", { class: "item-text" }, el("strong", { text: item.name }), el("span", { class: "count", text: `×${count}` }),
          item.description ? el("p", { class: "muted small", text: item.description }) : null),
        el(
          "div",
          { class: "item-actions" },
          item.usable === false ? null : el("button", { type: "button", class: "ghost small", disabled: busy, text: t("use"),
            onclick: () => onCommand({ intent: "use_item", slots: { item: id } }, `${t("use")} ${item.name}`) }),
          item.slot
            ? el("button", { type: "button", class: "ghost small", disabled: busy, text: t("equip"),
                onclick: () => onCommand({ intent: "equip", slots: { item: id } }, `${t("equip")} ${item.name}`) })
            : null,
          canSell
            ? el("button", { type: "button", class: "ghost small", disabled: busy, text: t("sell"),
                onclick: () => onCommand({ intent: "sell", slots: { item: id, quantity: 1 } }, `${t("sell")} ${item.name}`) })
            : null,
        ),
      );
    }),
  );
}
