// What the phone keeps between page loads: small things in localStorage, and the bundle
// (about 65 bytes per ticket, too big for localStorage at stadium sizes) in IndexedDB.

const PREFIX = "tikiti.gate.";

export function load(name, fallback) {
  try {
    const text = localStorage.getItem(PREFIX + name);
    return text === null ? fallback : JSON.parse(text);
  } catch {
    return fallback;
  }
}

export function save(name, value) {
  localStorage.setItem(PREFIX + name, JSON.stringify(value));
}

export function remove(name) {
  localStorage.removeItem(PREFIX + name);
}

let opening = null;

function database() {
  opening ||= new Promise((resolve, reject) => {
    const request = indexedDB.open("tikiti-gate", 1);
    request.onupgradeneeded = () => request.result.createObjectStore("kv");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opening;
}

async function run(mode, act) {
  const db = await database();
  return new Promise((resolve, reject) => {
    const request = act(db.transaction("kv", mode).objectStore("kv"));
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export const getBig = (key) => run("readonly", (kv) => kv.get(key));
export const putBig = (key, value) => run("readwrite", (kv) => kv.put(value, key));
export const deleteBig = (key) => run("readwrite", (kv) => kv.delete(key));
