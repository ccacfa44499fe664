/**
 * The bytes the lab's TCP transfers send (tools/lab/tcp_bulk.ts), and
 * their SHA-256. The bytes look random but depend only on a seed, so two
 * transfers with the same seed send the very same bytes, and the lab can
 * tell what the first N of them were (to check a transfer cut short).
 *
 * @module
 */

/**
 * `size` bytes from the seeded generator xorshift32 (G. Marsaglia,
 * "Xorshift RNGs", 2003): each 32-bit word from the one before by three
 * shifts and XORs, written little-endian. Not for secrets; plenty for
 * showing that every byte arrived in order.
 */
export function seededBytes(size: number, seed = 1): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  let x = seed >>> 0 || 1; // xorshift never leaves 0: start elsewhere
  for (let at = 0; at < size; at += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    if (at + 4 <= size) view.setUint32(at, x, true);
    else for (let i = at; i < size; i++) bytes[i] = x >>> (8 * (i - at));
  }
  return bytes;
}

/** The SHA-256 of `bytes`, as 64 hexadecimal digits. */
export async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest))
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");
}
