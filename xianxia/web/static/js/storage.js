// What this browser remembers: the character (id and token), the language, the last answer's suggestions.

const SESSION = "xianxia.session";
const LANGUAGE = "xianxia.language";
const LAST = "xianxia.last";

function read(key) {
  try {
    return JSON.parse(localStorage.getItem(key) ?? "null");
  } catch {
    return null;
  }
}

export const loadSession = () => {
  const found = read(SESSION);
  return found && typeof found.id === "string" && typeof found.token === "string" ? found : null;
};
export const saveSession = (session) => localStorage.setItem(SESSION, JSON.stringify(session));
export function forgetSession() {
  localStorage.removeItem(SESSION);
  localStorage.removeItem(LAST);
}

export const loadLanguage = () => read(LANGUAGE) ?? (navigator.language.startsWith("zh") ? "zh" : "zh");
export const saveLanguage = (language) => localStorage.setItem(LANGUAGE, JSON.stringify(language));

/** The suggestions of the last answer, kept with the player version they belong to. */
export const loadLast = () => read(LAST);
export const saveLast = (version, suggestions) => localStorage.setItem(LAST, JSON.stringify({ version, suggestions }));
