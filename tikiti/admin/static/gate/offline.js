// Deciding a scan without the server, from the bundle, as tikiti/core/offline.py does.
// Every function here is pure except for WebCrypto; the tests run them against the Python.
import { parse } from "./codes.js";

const QR_PREFIX = "TK1:";
const CLAIM_LENGTH = 27; // struct ">BQQQH": format, ticket id, event id, tier id, version
const SIGNATURE_LENGTH = 64;
const MAX_ID = 2n ** 63n - 1n;
const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

export function hexBytes(hex) {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.substr(i * 2, 2), 16);
  return bytes;
}

function toHex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** sha256(salt ‖ code) in hex, like core.offline.code_hash. */
export async function codeHash(salt, code) {
  const data = new Uint8Array(salt.length + code.length);
  data.set(salt);
  for (let i = 0; i < code.length; i++) data[salt.length + i] = code.charCodeAt(i);
  return toHex(await crypto.subtle.digest("SHA-256", data));
}

function base32Encode(bytes) {
  let out = "", value = 0, bits = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) out += B32[(value >> (bits -= 5)) & 31];
    value &= (1 << bits) - 1;
  }
  return bits ? out + B32[(value << (5 - bits)) & 31] : out;
}

/** RFC 4648 base32 without padding; null unless canonical, so a ticket has one spelling. */
export function base32Decode(text) {
  const out = [];
  let value = 0, bits = 0;
  for (const char of text) {
    const digit = B32.indexOf(char);
    if (digit < 0) return null;
    value = (value << 5) | digit;
    bits += 5;
    if (bits >= 8) out.push((value >> (bits -= 8)) & 255);
    value &= (1 << bits) - 1;
  }
  const bytes = new Uint8Array(out);
  return base32Encode(bytes) === text ? bytes : null;
}

/** The claim a QR text makes, NOT yet verified; {error} when it is not a TK1 payload. */
export function readQr(payload) {
  const text = payload.trim().toUpperCase();
  if (!text.startsWith(QR_PREFIX)) return { error: "not a Tikiti ticket QR code" };
  const data = base32Decode(text.slice(QR_PREFIX.length));
  if (!data) return { error: "bad base32" };
  if (data.length !== CLAIM_LENGTH + SIGNATURE_LENGTH) return { error: "wrong length" };
  if (data[0] !== 1) return { error: "unknown format" };
  const view = new DataView(data.buffer);
  return {
    message: data.subarray(0, CLAIM_LENGTH),
    signature: data.subarray(CLAIM_LENGTH),
    // Ids are 64-bit on the wire: BigInt, compared with the bundle's ids as decimal strings.
    ticketId: view.getBigUint64(1).toString(),
    eventId: view.getBigUint64(9).toString(),
    tierId: view.getBigUint64(17).toString(),
    version: view.getUint16(25),
  };
}

function inRange(id) {
  const value = BigInt(id);
  return value >= 1n && value <= MAX_ID;
}

/** The verified claim, {error}, or {error, unsupported} when this browser lacks Ed25519. */
export async function verifyQr(bundle, payload) {
  const claim = readQr(payload);
  if (claim.error) return claim;
  let key;
  try {
    const algorithm = { name: "Ed25519" };
    bundle.key ||= crypto.subtle.importKey("raw", bundle.publicKey, algorithm, false, ["verify"]);
    key = await bundle.key;
  } catch {
    bundle.key = null;
    return { error: "cannot verify QR offline: type the code", unsupported: true };
  }
  const { signature, message } = claim;
  const genuine = await crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
  if (!genuine) return { error: "bad signature" };
  if (![claim.ticketId, claim.eventId, claim.tierId].every(inRange)) {
    return { error: "claim out of range" };
  }
  return claim;
}

/** Sets for quick look-ups; throws on anything that is not a format 1 bundle. */
export function prepare(raw) {
  if (!raw || raw.format !== 1 || !raw.event || !raw.salt || !raw.public_key) {
    throw new Error("not a gate bundle of format 1");
  }
  return {
    raw,
    eventId: String(raw.event.id),
    gate: raw.gate,
    admitFrom: Date.parse(raw.admit_from),
    generatedAt: Date.parse(raw.generated_at),
    publicKey: hexBytes(raw.public_key),
    salt: hexBytes(raw.salt),
    codes: new Set(raw.codes),
    used: new Set(raw.used),
    revoked: new Set(raw.revoked.map(String)),
    usedIds: new Set(raw.used_ids.map(String)),
    minVersions: raw.min_versions,
    key: null,
  };
}

/** What this phone let in itself since its bundle: {event, codes: {hash: {at, gate}}, tickets}. */
export function emptySeen(eventId) {
  return { event: eventId, codes: {}, tickets: {} };
}

function used(mine, bundle) {
  if (mine) return { result: "already_used", checked_in_at: mine.at, gate: mine.gate };
  return { result: "already_used", before: bundle.generatedAt, reason: "let in before the list" };
}

async function decideCode(bundle, seen, text) {
  const parsed = parse(text);
  if (parsed.error) return { result: "invalid_code", reason: parsed.error };
  const hash = await codeHash(bundle.salt, parsed.code);
  if (!bundle.codes.has(hash)) {
    return { result: "not_found", reason: "not a valid ticket in this phone's list" };
  }
  const mine = seen.codes[hash];
  if (mine || bundle.used.has(hash)) return used(mine, bundle);
  return { result: "admitted", code: parsed.code, hash };
}

async function decideQr(bundle, seen, payload) {
  const claim = await verifyQr(bundle, payload);
  if (claim.unsupported) return { result: "qr_unsupported", reason: claim.error };
  if (claim.error) return { result: "invalid_code", reason: claim.error };
  const id = claim.ticketId;
  if (claim.eventId !== bundle.eventId) return { result: "wrong_event", reason: "another event" };
  if (bundle.revoked.has(id)) return { result: "revoked", reason: "refunded or cancelled" };
  if (claim.version < (bundle.minVersions[id] ?? 0)) {
    return { result: "invalid_code", reason: "replaced by a newer QR code" };
  }
  const mine = seen.tickets[id];
  if (mine || bundle.usedIds.has(id)) return used(mine, bundle);
  return { result: "admitted", ticketId: id };
}

/** The offline answer to {code} or {qr}, shaped like the server's where it can be. */
export async function decide(bundle, seen, scan, now = Date.now()) {
  if (!bundle) return { result: "no_bundle", reason: "no ticket list on this phone yet" };
  if (!globalThis.crypto?.subtle) return { result: "no_bundle", reason: "needs HTTPS" };
  if (scan.code !== undefined && parse(scan.code).error) {
    return { result: "invalid_code", reason: parse(scan.code).error };
  }
  if (now < bundle.admitFrom) {
    const style = { dateStyle: "medium", timeStyle: "short" };
    const from = new Date(bundle.admitFrom).toLocaleString([], style);
    return { result: "not_yet_valid", reason: `gates admit from ${from}` };
  }
  return scan.code !== undefined
    ? decideCode(bundle, seen, scan.code)
    : decideQr(bundle, seen, scan.qr);
}
