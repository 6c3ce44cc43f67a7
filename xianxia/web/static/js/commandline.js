// The command line: Enter sends, ↑/↓ walk the history; the text stays until the server has it.

import { byId } from "./dom.js";

const HISTORY = 100;

export function commandLine(onSubmit) {
  const form = byId("command-form");
  const input = byId("command-input");
  const history = [];
  let cursor = 0;
  let draft = "";

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    onSubmit(text);
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowUp" && history.length) {
      event.preventDefault();
      if (cursor === history.length) draft = input.value;
      cursor = Math.max(0, cursor - 1);
      input.value = history[cursor];
    } else if (event.key === "ArrowDown" && history.length) {
      event.preventDefault();
      cursor = Math.min(history.length, cursor + 1);
      input.value = cursor === history.length ? draft : history[cursor];
    }
  });

  return {
    /** The server took `text`: remember it and clear the line (unless the player typed on meanwhile). */
    accepted(text) {
      if (history.at(-1) !== text) history.push(text);
      if (history.length > HISTORY) history.shift();
      cursor = history.length;
      draft = "";
      if (input.value.trim() === text) input.value = "";
    },
    focus() {
      input.focus();
    },
  };
}
