// The world map: scenes in columns by distance from the first scene, exits as lines, the player's scene marked.

import { byId, replaceChildren, svg } from "./dom.js";
import { t } from "./i18n.js";

const COLUMN = 132;
const ROW = 64;
const NODE_W = 104;
const NODE_H = 40;

/** Scene id -> what entering it needs (the entry-gate laws), e.g. "需筑基". */
function gates(laws, realms) {
  const names = Object.fromEntries(realms.map((realm) => [realm.id, realm.name]));
  const found = {};
  for (const law of laws) {
    if (!law.min_realm || !Array.isArray(law.scenes)) continue;
    for (const scene of law.scenes) found[scene] = t("requires", { realm: names[law.min_realm] ?? law.min_realm });
  }
  return found;
}

function layout(scenes) {
  const byIdMap = new Map(scenes.map((scene) => [scene.id, scene]));
  const depth = new Map();
  const queue = scenes.length ? [scenes[0].id] : [];
  if (queue.length) depth.set(queue[0], 0);
  while (queue.length) {
    const id = queue.shift();
    for (const next of byIdMap.get(id)?.exits ?? []) {
      if (!depth.has(next) && byIdMap.has(next)) {
        depth.set(next, depth.get(id) + 1);
        queue.push(next);
      }
    }
  }
  const maxDepth = Math.max(0, ...depth.values());
  for (const scene of scenes) if (!depth.has(scene.id)) depth.set(scene.id, maxDepth + 1); // unreachable: last column
  const rows = new Map();
  const position = new Map();
  for (const scene of scenes) {
    const column = depth.get(scene.id);
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    position.set(scene.id, { x: 12 + column * COLUMN, y: 12 + row * ROW });
  }
  return { position, columns: Math.max(...depth.values()) + 1, rows: Math.max(...rows.values()) };
}

export function renderMap(world, player, onMove) {
  const box = byId("map");
  const scenes = world.scenes;
  if (!scenes.length || !player) return;
  const { position, columns, rows } = layout(scenes);
  const gated = gates(world.laws, world.realms);
  const here = scenes.find((scene) => scene.id === player.location);
  const neighbours = new Set(here?.exits ?? []);
  const width = 24 + (columns - 1) * COLUMN + NODE_W;
  const height = 24 + (rows - 1) * ROW + NODE_H;
  const edges = [];
  const seen = new Set();
  for (const scene of scenes) {
    for (const exit of scene.exits) {
      const key = [scene.id, exit].sort().join("|");
      if (seen.has(key) || !position.has(exit)) continue;
      seen.add(key);
      const a = position.get(scene.id);
      const b = position.get(exit);
      const active = scene.id === player.location || exit === player.location;
      edges.push(svg("line", {
        x1: a.x + NODE_W / 2, y1: a.y + NODE_H / 2, x2: b.x + NODE_W / 2, y2: b.y + NODE_H / 2,
        class: active ? "edge active" : "edge",
      }));
    }
  }
  const nodes = scenes.map((scene) => {
    const { x, y } = position.get(scene.id);
    const current = scene.id === player.location;
    const reachable = neighbours.has(scene.id);
    const gate = gated[scene.id];
    const classes = ["node", current && "current", reachable && "reachable", gate && "gated"].filter(Boolean).join(" ");
    const label = gate ? `${scene.name}（${gate}）` : scene.name;
    const group = svg(
      "g",
      {
        class: classes,
        "data-scene": scene.id,
        transform: `translate(${x} ${y})`,
        role: reachable ? "button" : "img",
        tabindex: reachable ? 0 : null,
        "aria-label": current ? `${label} · ${t("here")}` : label,
      },
      svg("title", { text: current ? `${label} · ${t("here")}` : label }),
      svg("rect", { width: NODE_W, height: NODE_H, rx: 10 }),
      svg("text", { x: NODE_W / 2, y: gate ? 17 : 25, "text-anchor": "middle", class: "node-name", text: scene.name }),
      gate ? svg("text", { x: NODE_W / 2, y: 32, "text-anchor": "middle", class: "node-gate", text: gate }) : null,
    );
    if (reachable) {
      const go = () => onMove(scene);
      group.addEventListener("click", go);
      group.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          go();
        }
      });
    }
    return group;
  });
  replaceChildren(
    box,
    svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "map-svg", role: "group", "aria-label": t("tab_map") }, edges, nodes),
  );
}
