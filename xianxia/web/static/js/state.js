// The one state object the page renders from; `update` merges a change and re-renders.

export const state = {
  session: null, // {id, token}
  player: null, // the `player` document of the last answer
  suggestions: [], // what the engine says can be done now
  scene: null, // the current scene from /api/world/scenes/{id}
  world: { scenes: [], laws: [], realms: [], items: {} },
  transcript: [],
  busy: false,
};

const listeners = [];

export function subscribe(listener) {
  listeners.push(listener);
}

export function update(change) {
  Object.assign(state, change);
  for (const listener of listeners) listener(state);
}
