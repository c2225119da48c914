// The gate scanner: ask the server while the network works, decide from the offline bundle
// when it does not, queue what was let in offline and upload it when the network is back.
// The token is sent only in the Authorization header and is never logged or shown.
import { Camera, loadDecoder } from "./camera.js";
import { format, parse } from "./codes.js";
import { codeHash, decide, emptySeen, prepare, readQr } from "./offline.js";
import * as store from "./store.js";

const $ = (id) => document.getElementById(id);
const CHECKIN_TIMEOUT = 5000; // stadium networks hang more often than they fail: don't wait long
const OFFLINE_FOR = 20000; // after a failure, decide locally at once for a while
const MINUTE = 60 * 1000;
const TICK = 10000;
const SYNC_BATCH = 500; // the server takes up to 1,000 scans per upload
const SHOW_MS = { admitted: 2000, refused: 3000 };
const SAME_QR_MS = 3000; // a QR still held up to the camera is not a new scan

const TITLES = {
  admitted: "ADMITTED",
  already_used: "ALREADY USED",
  not_found: "NOT FOUND",
  refunded: "REFUNDED",
  cancelled: "CANCELLED",
  revoked: "REFUNDED OR CANCELLED",
  wrong_event: "WRONG EVENT",
  invalid_code: "INVALID CODE",
  not_yet_valid: "NOT YET VALID",
  no_bundle: "CANNOT CHECK OFFLINE",
  qr_unsupported: "CANNOT VERIFY QR OFFLINE",
  token: "GATE TOKEN REFUSED",
  error: "NOT CHECKED",
};
// Answers about the device, not the ticket: not counted as refusals.
const NOT_COUNTED = new Set(["no_bundle", "qr_unsupported", "token", "error"]);

const state = {
  token: store.load("token", ""),
  bundle: null,
  bundleFetchedAt: 0,
  offlineUntil: 0,
  online: null,
  queue: store.load("queue", []),
  seen: store.load("seen", emptySeen(null)),
  counts: store.load("counts", { admitted: 0, refused: 0 }),
  problems: store.load("problems", []),
  showing: false,
  syncing: false,
  syncRefused: "",
  lastQr: { text: "", at: 0 },
};

class NetworkDown extends Error {}

async function api(method, path, body, timeout) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body) headers["Content-Type"] = "application/json";
  try {
    const response = await fetch(path, {
      method, headers, body: body && JSON.stringify(body), signal: controller.signal,
      cache: "no-store", credentials: "omit",
    });
    // A 5xx is a proxy or server that is down: as good as no network, for a gate.
    if (response.status >= 500) throw new NetworkDown(`HTTP ${response.status}`);
    return response;
  } catch (error) {
    setOnline(false);
    throw error instanceof NetworkDown ? error : new NetworkDown(error.name);
  } finally {
    clearTimeout(timer);
  }
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return { error: `HTTP ${response.status}` }; // e.g. a captive portal's HTML page
  }
}

function setOnline(online) {
  state.online = online;
  state.offlineUntil = online ? 0 : Date.now() + OFFLINE_FOR;
  render();
}

function nextNonce() {
  let device = store.load("device", "");
  if (!device) {
    const bytes = crypto.getRandomValues(new Uint8Array(8));
    device = [...bytes].map((b) => "0123456789abcdefghjkmnpqrstvwxyz"[b & 31]).join("");
    store.save("device", device);
  }
  const counter = store.load("counter", 0) + 1;
  store.save("counter", counter);
  return `${device}-${String(counter).padStart(6, "0")}`;
}

// ---- bundle, sync and the token ---------------------------------------------------------

function useBundle(raw) {
  state.bundle = prepare(raw);
  if (state.seen.event !== state.bundle.eventId) {
    state.seen = emptySeen(state.bundle.eventId);
    store.save("seen", state.seen);
  }
  render();
}

async function refreshBundle() {
  if (!state.token) return;
  const response = await api("GET", "/api/gate/bundle", null, 30000);
  if (response.status === 401) return tokenRefused();
  if (!response.ok) return;
  const raw = await readJson(response);
  useBundle(raw); // throws on a captive portal's page: the old bundle stays
  state.bundleFetchedAt = Date.now();
  setOnline(true);
  await store.putBig("bundle", raw).catch(() => {}); // kept in memory if IndexedDB is refused
}

function problemFor(scan, answer) {
  if (!scan) return null;
  const what = scan.code ? format(scan.code) : `QR ticket #${readQr(scan.qr).ticketId ?? "?"}`;
  const here = `${what}: let in here offline at ${when(scan.scanned_at)}`;
  if (answer.error) return `${here}, but the server did not record it: ${answer.error}`;
  if (answer.result === "admitted") return answer.reason ? `${here}; ${answer.reason}` : null;
  if (answer.result === "already_used") {
    const first = when(answer.checked_in_at);
    return `${here}, but gate ${answer.gate} had already let it in at ${first}`;
  }
  const title = TITLES[answer.result] ?? answer.result;
  return `${here}, but the server says ${title}: ${answer.reason ?? ""}`;
}

async function sync() {
  if (state.syncing || !state.queue.length || !state.token) return;
  state.syncing = true;
  try {
    while (state.queue.length) {
      const batch = state.queue.slice(0, SYNC_BATCH);
      const response = await api("POST", "/api/gate/sync", { scans: batch }, 30000);
      if (response.status === 401) return tokenRefused();
      const body = await readJson(response);
      // Cannot happen with scans this page queued; shown once, retried, never dropped.
      state.syncRefused = response.ok ? "" : `Upload refused by the server: ${body.error}`;
      if (!response.ok) return;
      const byNonce = new Map(batch.map((scan) => [scan.nonce, scan]));
      addProblems(body.results.map((answer) => problemFor(byNonce.get(answer.nonce), answer)));
      const done = new Set(body.results.map((answer) => answer.nonce));
      state.queue = state.queue.filter((scan) => !done.has(scan.nonce));
      store.save("queue", state.queue);
      setOnline(true);
    }
    await refreshBundle(); // it now includes what was just uploaded
  } catch (error) {
    if (!(error instanceof NetworkDown)) throw error;
  } finally {
    state.syncing = false;
    render();
  }
}

function addProblems(found) {
  const fresh = found.filter(Boolean);
  if (!fresh.length) return;
  state.problems = [...fresh, ...state.problems].slice(0, 100);
  store.save("problems", state.problems);
  render();
}

function tokenRefused() {
  openSetup("The server refused this gate token (revoked?). Enter a new one.");
}

function setToken(token) {
  if (!token || token === state.token) return false;
  state.token = token;
  store.save("token", token);
  state.counts = { admitted: 0, refused: 0 };
  store.save("counts", state.counts);
  state.bundle = null;
  store.deleteBig("bundle").catch(() => {});
  return true;
}

// ---- one scan ---------------------------------------------------------------------------

async function remember(scan, answer) {
  // What the server let in (or saw used) must be refused here too if the network drops
  // before the next bundle; the bundle has no code→ticket mapping, so remember both keys.
  if (!state.bundle || !["admitted", "already_used"].includes(answer.result)) return;
  const entry = { at: answer.checked_in_at, gate: answer.gate };
  const ticketId = scan.qr ? readQr(scan.qr).ticketId : undefined;
  if (ticketId) state.seen.tickets[ticketId] = entry;
  if (answer.ticket?.code) {
    state.seen.codes[await codeHash(state.bundle.salt, answer.ticket.code)] = entry;
  }
  store.save("seen", state.seen);
}

async function checkOffline(scan) {
  const answer = { ...(await decide(state.bundle, state.seen, scan)), offline: true };
  if (answer.result !== "admitted") return answer;
  const at = new Date().toISOString();
  const gate = state.bundle.gate;
  const entry = { at, gate };
  if (answer.hash) state.seen.codes[answer.hash] = entry;
  if (answer.ticketId) state.seen.tickets[answer.ticketId] = entry;
  // The same nonce as the failed online attempt: if that one did reach the server, the
  // upload gets its answer back instead of counting the ticket twice.
  const what = answer.code ? { code: answer.code } : { qr: scan.qr };
  state.queue.push({ nonce: scan.nonce, ...what, scanned_at: at, gate });
  store.save("seen", state.seen);
  store.save("queue", state.queue);
  return { ...answer, checked_in_at: at, gate };
}

async function check(what) {
  if (!state.token) return openSetup();
  if (state.showing) return;
  state.showing = true; // no second scan until this answer has been shown
  try {
    show(await ask({ nonce: nextNonce(), ...what }));
  } catch (error) {
    show({ result: "error", reason: String(error.message || error) });
  }
}

// The server's answer while it can be reached; this phone's own decision otherwise.
async function ask(scan) {
  let answer = null;
  if (navigator.onLine !== false && Date.now() >= state.offlineUntil) {
    try {
      const response = await api("POST", "/api/checkin", scan, CHECKIN_TIMEOUT);
      const body = await readJson(response);
      if (response.status === 401) {
        answer = { result: "token", reason: "ask the organizer for a new one" };
        tokenRefused();
      } else if (!response.ok) {
        answer = { result: "error", reason: body.error };
      } else if (typeof body.result !== "string") {
        setOnline(false); // a captive portal's page in place of an answer: no real network
        throw new NetworkDown("not an answer");
      } else {
        answer = body;
        setOnline(true);
        await remember(scan, body);
        sync().catch(() => {}); // the network is back: upload what waited
      }
    } catch (error) {
      if (!(error instanceof NetworkDown)) throw error;
    }
  }
  return answer || checkOffline(scan);
}

// ---- showing answers --------------------------------------------------------------------

function when(iso) {
  const moment = new Date(iso);
  const time = moment.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
  if (moment.toDateString() === new Date().toDateString()) return time;
  return `${moment.toLocaleDateString([], { day: "numeric", month: "short" })} ${time}`;
}

function detail(answer) {
  if (answer.result === "already_used") {
    if (!answer.checked_in_at) return `BEFORE ${when(answer.before)}`;
    return `${when(answer.checked_in_at)} GATE ${answer.gate}`.toUpperCase();
  }
  return answer.reason || "";
}

function ticketLine(answer) {
  const ticket = answer.ticket;
  if (ticket) {
    return [ticket.tier, ticket.seat && `seat ${ticket.seat}`, format(ticket.code)]
      .filter(Boolean)
      .join(" · ");
  }
  if (answer.code) return format(answer.code);
  return answer.ticketId ? `ticket #${answer.ticketId}` : "";
}

let audio = null;

function signal(admitted) {
  navigator.vibrate?.(admitted ? 80 : [250, 100, 250]);
  try {
    audio ||= new AudioContext();
    const tone = audio.createOscillator(), gain = audio.createGain();
    tone.type = admitted ? "sine" : "square";
    tone.frequency.value = admitted ? 880 : 220;
    gain.gain.value = 0.15;
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + (admitted ? 0.15 : 0.45));
  } catch {
    // no sound is fine: the colour is the signal
  }
}

function show(answer) {
  const admitted = answer.result === "admitted";
  if (!NOT_COUNTED.has(answer.result)) {
    state.counts[admitted ? "admitted" : "refused"] += 1;
    store.save("counts", state.counts);
  }
  const box = $("result");
  box.className = admitted ? "admitted" : "refused";
  box.dataset.result = answer.result;
  $("result-title").textContent = TITLES[answer.result] ?? answer.result.toUpperCase();
  $("result-detail").textContent = detail(answer);
  $("result-ticket").textContent = ticketLine(answer);
  $("result-mode").textContent = !answer.offline
    ? ""
    : admitted ? "OFFLINE · saved on this phone, will sync" : "OFFLINE · checked on this phone";
  box.hidden = false;
  signal(admitted);
  render();
  const close = () => {
    clearTimeout(timer);
    box.hidden = true;
    state.showing = false;
    if (!camera.running) $("code").focus();
  };
  const timer = setTimeout(close, SHOW_MS[admitted ? "admitted" : "refused"]);
  box.onclick = close;
}

function render() {
  const bundle = state.bundle;
  const offline = state.online === false || navigator.onLine === false;
  document.body.dataset.net = offline ? "offline" : state.online ? "online" : "unknown";
  document.body.dataset.bundle = bundle ? "ready" : "none";
  document.body.dataset.queue = String(state.queue.length);
  if (bundle) {
    $("event").textContent = bundle.raw.event.name;
    $("gate").textContent = `Gate ${bundle.gate} · ${bundle.raw.event.code}`;
  }
  const size = bundle?.codes.size.toLocaleString();
  const list = bundle ? `list of ${size} tickets from ${when(bundle.generatedAt)}` : "";
  const [tone, text] = !state.token
    ? ["", "No gate token yet."]
    : offline && !bundle
      ? ["bad", "OFFLINE and no ticket list on this phone: cannot check tickets."]
      : offline
        ? ["warn", `OFFLINE · checking on this phone (${list})`]
        : state.online
          ? ["ok", bundle ? `Online · ${list}` : "Online · getting the ticket list…"]
          : ["", "Connecting…"];
  $("net").className = `banner ${tone}`;
  $("net").textContent = text;
  const waiting = state.queue.length;
  $("queue").hidden = waiting === 0;
  $("queue").textContent = `${waiting} ${waiting === 1 ? "scan" : "scans"} waiting to sync`;
  $("sync-refused").hidden = !state.syncRefused;
  $("sync-refused").textContent = state.syncRefused;
  $("count-in").textContent = state.counts.admitted;
  $("count-out").textContent = state.counts.refused;
  $("problems").hidden = state.problems.length === 0;
  $("problem-list").replaceChildren(...state.problems.map((text) => {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  }));
}

// ---- wiring -----------------------------------------------------------------------------

function openSetup(why = "") {
  const waiting = state.queue.length;
  const queued = waiting ? `${waiting} scans waiting to sync will be sent with the new token.` : "";
  $("token-note").textContent = `${why} ${queued}`.trim();
  $("setup").hidden = false;
  $("scan").hidden = true;
  $("token-cancel").hidden = !state.token;
  $("token-input").focus();
}

function closeSetup() {
  $("setup").hidden = true;
  $("scan").hidden = false;
  $("token-note").textContent = "";
}

const camera = new Camera($("video"), (text) => {
  const now = Date.now();
  const same = text === state.lastQr.text && now - state.lastQr.at < SAME_QR_MS;
  state.lastQr = { text, at: now };
  if (same || state.showing) return;
  if (text.trim().toUpperCase().startsWith("TK1:")) check({ qr: text });
  else if (!parse(text).error) check({ code: text }); // a QR holding just the short code
  else {
    state.showing = true; // someone's web address, a payment QR…: nothing to ask anyone
    show({ result: "invalid_code", reason: "not a Tikiti ticket QR code" });
  }
});

async function toggleCamera(on) {
  if (!on) camera.stop();
  else {
    try {
      $("viewfinder").hidden = false;
      await camera.start();
    } catch (error) {
      camera.stop();
      show({ result: "error", reason: `camera: ${error.message || error.name}. Type the code.` });
    }
  }
  $("viewfinder").hidden = !camera.running;
  $("camera").hidden = camera.running;
}

function wire() {
  $("code-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const code = $("code").value.trim();
    if (!code) return;
    $("code").value = "";
    check({ code });
  });
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setToken($("token-input").value.trim());
    $("token-input").value = "";
    closeSetup();
    refreshBundle().catch(() => {});
  });
  $("settings").addEventListener("click", () => openSetup());
  $("token-cancel").addEventListener("click", closeSetup);
  $("camera").addEventListener("click", () => toggleCamera(true));
  $("camera-stop").addEventListener("click", () => toggleCamera(false));
  $("problems-clear").addEventListener("click", () => {
    state.problems = [];
    store.save("problems", []);
    render();
  });
  addEventListener("online", () => {
    state.offlineUntil = 0;
    sync().catch(() => {});
    refreshBundle().catch(() => {});
  });
  addEventListener("offline", () => setOnline(false));
  document.addEventListener("visibilitychange", () => document.hidden && toggleCamera(false));
}

// Every 3 minutes for up to 5,000 tickets, less often above, at most every 15: a stadium's
// bundle is megabytes, and while online the server decides anyway; the bundle is the fallback.
function bundleEvery() {
  const tickets = state.bundle?.codes.size ?? 0;
  return Math.min(15, 3 * Math.max(1, tickets / 5000)) * MINUTE;
}

async function tick() {
  if (!state.token || navigator.onLine === false) return;
  if (state.queue.length) await sync();
  if (Date.now() - state.bundleFetchedAt > bundleEvery()) await refreshBundle().catch(() => {});
}

async function start() {
  // A token in the fragment (#token=…) never reaches a server log; take it, then drop it from
  // the address bar and the history.
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get("token");
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  const changed = fromUrl ? setToken(fromUrl.trim()) : false;
  $("insecure").hidden = window.isSecureContext;
  wire();
  const kept = changed ? null : await store.getBig("bundle").catch(() => null);
  if (kept && !state.bundle) useBundle(kept);
  if (!state.token) openSetup();
  else $("code").focus();
  render();
  loadDecoder().catch(() => {}); // now, while there is a network: see camera.js
  const worker = navigator.serviceWorker;
  worker?.register("/admin/static/gate/sw.js", { scope: "/admin/gate" }).catch(() => {});
  setInterval(() => tick().catch(() => {}), TICK);
  await tick().catch(() => {});
}

start();
