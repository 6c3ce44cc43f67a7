// The narration pane: the player's words, the world's answers, refusals by law, a line being streamed.

import { byId, el } from "./dom.js";
import { t } from "./i18n.js";

const MAX_LINES = 400;

const pane = () => byId("narration");

function push(node) {
  const box = pane();
  box.append(node);
  while (box.childElementCount > MAX_LINES) box.firstElementChild.remove();
  box.scrollTop = box.scrollHeight;
  return node;
}

export function said(text) {
  return push(el("p", { class: "line said" }, el("span", { class: "who", text: "›" }), " ", text));
}

export function system(text) {
  return push(el("p", { class: "line system", text }));
}

/** One answer of `/act`: narration, a refusal with the law's name and reason, a quiet mark when degraded. */
export function answer(body, lawNames) {
  const intent = body.intent ?? {};
  const block = el("div", { class: `entry${intent.allowed === false ? " refused" : ""}` });
  if (intent.allowed === false) {
    const law = intent.law ? lawNames[intent.law] ?? intent.law : null;
    block.append(
      el(
        "p",
        { class: "refusal" },
        el("span", { class: "law-badge", text: law ? `${t("refused")} · ${law}` : t("refused_plain") }),
        law ? el("code", { class: "law-id", text: intent.law }) : null,
        el("span", { class: "reason", text: intent.reason ?? "" }),
      ),
    );
  }
  for (const paragraph of narrationLines(body.narration, intent)) block.append(el("p", { class: "line", text: paragraph }));
  if (body.degraded) block.append(el("span", { class: "degraded", title: t("degraded_title"), text: t("degraded") }));
  return push(block);
}

function narrationLines(narration, intent) {
  const lines = String(narration ?? "").split("\n").filter((line) => line.trim() !== "");
  // A refusal's narration repeats the reason shown in the badge line.
  if (intent.allowed === false && lines.length && intent.reason && lines[0].endsWith(intent.reason)) lines.shift();
  return lines;
}

/** A line that grows as the NPC speaks; `finish` removes it once the full answer is rendered. */
export function streaming() {
  const line = push(el("p", { class: "line streaming", "aria-busy": "true" }));
  return {
    add(text) {
      line.textContent += text;
      pane().scrollTop = pane().scrollHeight;
    },
    get text() {
      return line.textContent;
    },
    finish() {
      line.remove();
    },
  };
}

export function clear() {
  pane().replaceChildren();
}
