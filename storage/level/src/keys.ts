// Key bytes for the LevelDB backend: CESU-8, i.e. UTF-8 applied to each UTF-16 code unit.
// Byte order then equals UTF-16 code unit order (JS string order), and lone surrogates survive.

/** CESU-8: every UTF-16 code unit as 1 to 3 bytes, in an order-preserving, prefix-free way. */
export function encodeKey(text: string, prefix?: Buffer, suffixByte?: number): Buffer {
  const head = prefix?.length ?? 0;
  const out = Buffer.allocUnsafe(head + text.length * 3 + (suffixByte === undefined ? 0 : 1));
  if (prefix) prefix.copy(out, 0);
  let n = head;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
    } else if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 0x3f);
    } else {
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    }
  }
  if (suffixByte !== undefined) out[n++] = suffixByte;
  return out.subarray(0, n);
}

/** Inverse of encodeKey for `bytes[start..]`. */
export function decodeKey(bytes: Uint8Array, start = 0): string {
  let out = '';
  let codes: number[] = [];
  for (let i = start; i < bytes.length; ) {
    const b = bytes[i];
    let c: number;
    if (b < 0x80) {
      c = b;
      i += 1;
    } else if (b < 0xe0) {
      c = ((b & 0x1f) << 6) | (bytes[i + 1] & 0x3f);
      i += 2;
    } else {
      c = ((b & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f);
      i += 3;
    }
    codes.push(c);
    if (codes.length === 4096) {
      out += String.fromCharCode(...codes);
      codes = [];
    }
  }
  return out + String.fromCharCode(...codes);
}
