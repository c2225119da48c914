// Ticket short codes, read exactly as tikiti/core/codes.py reads them (the tests compare the two).

export const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const BASE = ALPHABET.length;
const CODE_LENGTH = 10;
const SEPARATORS = /[ \-.\t\r\n]/g;
// Crockford's rules: letters easily misread as digits mean those digits.
const LOOKALIKES = { O: "0", I: "1", L: "1" };

/** Forgive case, grouping marks and look-alike letters, as people type them. */
export function normalize(text) {
  return text.toUpperCase().replace(SEPARATORS, "").replace(/[OIL]/g, (c) => LOOKALIKES[c]);
}

/** Luhn mod 32 over the body; null if the body has a character outside the alphabet. */
export function checkCharacter(body) {
  let total = 0;
  for (let offset = 0; offset < body.length; offset++) {
    let value = ALPHABET.indexOf(body[body.length - 1 - offset]);
    if (value < 0) return null;
    if (offset % 2 === 0) {
      value *= 2;
      value = Math.floor(value / BASE) + (value % BASE);
    }
    total += value;
  }
  return ALPHABET[(BASE - (total % BASE)) % BASE];
}

/** {code} for a well-formed code, else {error} with core's wording. */
export function parse(text) {
  const code = normalize(text);
  if (code.length !== CODE_LENGTH) return { error: "wrong length" };
  if ([...code].some((c) => !ALPHABET.includes(c))) return { error: "not a ticket code character" };
  if (checkCharacter(code.slice(0, -1)) !== code.slice(-1)) {
    return { error: "check character does not match" };
  }
  return { code };
}

/** "7KQ2M-XR4P9": two groups of five read back more reliably than ten. */
export function format(code) {
  return code.length === CODE_LENGTH ? `${code.slice(0, 5)}-${code.slice(5)}` : code;
}
