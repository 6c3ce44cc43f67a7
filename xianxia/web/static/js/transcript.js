// The transcript from the player's action log, and its export as a text file.

import { byId, el, replaceChildren } from "./dom.js";
import { t } from "./i18n.js";

/** What the player said; for a clicked action, its intent with the world's names for its slots. */
export function describe(entry, names = {}) {
  if (entry.text) return entry.text;
  const slots = Object.entries(entry.intent?.slots ?? {})
    .filter(([name]) => name !== "quantity")
    .map(([, value]) => names[value] ?? value)
    .join(" ");
  const verb = names[`intent:${entry.intent?.intent}`] ?? entry.intent?.intent ?? "?";
  return `${verb}${slots ? ` ${slots}` : ""}`;
}

export function renderTranscript(entries, names = {}) {
  const list = byId("transcript");
  if (!entries.length) {
    replaceChildren(list, el("li", { class: "muted", text: t("transcript_empty") }));
    return;
  }
  replaceChildren(
    list,
    entries.map((entry) =>
      el(
        "li",
        { class: entry.outcome?.allowed === false ? "refused" : "" },
        el("span", { class: "said", text: `› ${describe(entry, names)}` }),
        el("p", { class: "small", text: entry.outcome?.narration ?? "" }),
      ),
    ),
  );
  list.scrollTop = list.scrollHeight;
}

export function transcriptText(player, entries, names = {}) {
  const head = `${player.name} · ${player.root_name ?? ""} · ${player.stage_name ?? ""}\n\n`;
  return head + entries.map((entry) => `> ${describe(entry, names)}\n${entry.outcome?.narration ?? ""}\n`).join("\n");
}

/** Offer the transcript as a download (a Blob URL: nothing leaves the page). */
export function exportTranscript(player, entries, names = {}) {
  const blob = new Blob([transcriptText(player, entries, names)], { type: "text/plain;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: t("export_name", { name: player.name }) });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
