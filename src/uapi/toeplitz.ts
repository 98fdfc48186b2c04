/**
 * Toeplitz hash: the RSS hash a NIC computes in hardware for every received frame.
 *
 * Stands for the NIC's RSS hash engine (Intel 82599 datasheet 7.1.2.8 "RSS Hash Function",
 * Microsoft "RSS Hashing Functions" / "Verifying the RSS Hash Calculation"), not for a kernel
 * function: the kernel only reads the result from the RX descriptor (`skb_set_hash(skb,
 * le32_to_cpu(rx_desc->wb.lower.hi_dword.rss), ...)` in ixgbe_rx_hash). Software copies of the
 * same function exist in tools/testing/selftests/net/toeplitz.c and DPDK's rte_softrss.
 *
 * Definition (Microsoft pseudo-code): for each input bit b, left to right (most significant bit
 * of input[0] first), if b == 1 then result ^= the left-most 32 bits of K; then shift K left
 * by one bit.
 *
 * Key: Linux drivers program a random key drawn once at boot (`netdev_rss_key_fill`); the
 * Microsoft default key below is the one every verification table is written for. The device
 * model chooses which one to program (`setKey`).
 *
 * Two forms:
 * - `toeplitzHash`: the reference bit-serial loop, exactly the definition; used by tests.
 * - `ToeplitzTable`: the hot-path form. For input byte position i and byte value x, the XOR of
 *   the key windows selected by the set bits of x is precomputed, so a hash is one table load
 *   and one XOR per input byte. Table layout: `table[i * 256 + x]`, i < maxInputBytes.
 *
 * Hot path: no allocation per call; results are uint32 (`>>> 0`). V8 boxes a uint32 >= 2^31
 * into a heap number when it is returned from a call that was not inlined, so the uint32
 * methods are one-line wrappers (always inlined) over `*_i32` methods that return the int32
 * bit pattern.
 */

/**
 * Microsoft's default 40-byte RSS key (also the Intel 82599 / DPDK verification key):
 * 6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa.
 * Shared and mutable: copy it before changing bytes (ToeplitzTable keeps its own copy).
 */
export const MS_RSS_KEY: Uint8Array = Uint8Array.of(
  0x6d,
  0x5a,
  0x56,
  0xda,
  0x25,
  0x5b,
  0x0e,
  0xc2,
  0x41,
  0x67,
  0x25,
  0x3d,
  0x43,
  0xa3,
  0x8f,
  0xb0,
  0xd0,
  0xca,
  0x2b,
  0xcb,
  0xae,
  0x7b,
  0x30,
  0xb4,
  0x77,
  0xcb,
  0x2d,
  0xa3,
  0x80,
  0x30,
  0xf2,
  0x0c,
  0x6a,
  0x42,
  0xb7,
  0x3b,
  0xbe,
  0xac,
  0x01,
  0xfa,
);

/** Bytes of RSS input for IPv6 + L4 ports: saddr(16) daddr(16) sport(2) dport(2). */
export const RSS_IPV6_L4_INPUT_BYTES = 36;
/** Bytes of RSS input for IPv6 only: saddr(16) daddr(16). */
export const RSS_IPV6_INPUT_BYTES = 32;
/** Bytes of RSS input for IPv4 + L4 ports: saddr(4) daddr(4) sport(2) dport(2). */
export const RSS_IPV4_L4_INPUT_BYTES = 12;
/** Bytes of RSS input for IPv4 only: saddr(4) daddr(4). */
export const RSS_IPV4_INPUT_BYTES = 8;
/** Offset of saddr in the IPv4 header; daddr follows at 16. */
const IPV4_SADDR_OFFSET = 12;
const IPV4_HDR_LEN_MIN = 20;

/** Big-endian 32-bit read of key[i..i+3]. */
function key_be32(key: Uint8Array, i: number): number {
  return ((key[i] << 24) | (key[i + 1] << 16) | (key[i + 2] << 8) | key[i + 3]) >>> 0;
}

/**
 * Reference bit-serial Toeplitz hash of bytes[offset .. offset+length).
 * `key.length` must be at least `length + 4` (every input bit consumes one key bit, and the
 * window is 32 bits wide).
 */
export function toeplitzHash(key: Uint8Array, bytes: Uint8Array, offset = 0, length: number = bytes.length - offset): number {
  if (offset < 0 || length < 0 || offset + length > bytes.length) {
    throw new RangeError(`toeplitzHash: range [${offset}, +${length}) outside ${bytes.length} bytes`);
  }
  if (key.length < length + 4) {
    throw new RangeError(`toeplitzHash: key of ${key.length} bytes too short for ${length} input bytes`);
  }
  let result = 0;
  let window = key_be32(key, 0); // left-most 32 bits of K
  for (let i = 0; i < length; i++) {
    const input = bytes[offset + i];
    const next = i + 4 < key.length ? key[i + 4] : 0; // key bits shifted in during this byte
    for (let bit = 7; bit >= 0; bit--) {
      if ((input >>> bit) & 1) result ^= window;
      window = (window << 1) | ((next >>> bit) & 1); // shift K left one bit position
    }
  }
  return result >>> 0;
}

/** Cold path of the argument assertions, kept out of the hashing methods' bytecode. */
function toeplitz_bad_range(what: string, offset: number, length: number): RangeError {
  return new RangeError(`ToeplitzTable.${what}: range [${offset}, +${length}) out of bounds`);
}

/** The 32-bit key window that starts at key bit `bitPos` (bit 0 = MSB of key[0]). */
function key_window(key: Uint8Array, bitPos: number): number {
  const byte = bitPos >>> 3;
  const shift = bitPos & 7;
  const hi = key_be32(key, byte);
  if (shift === 0) return hi;
  return ((hi << shift) | (key[byte + 4] >>> (8 - shift))) >>> 0;
}

/**
 * Table-driven Toeplitz hash for the hot path (the NIC's RSS engine in the device model).
 * Owned by one thread: `setKey` rewrites the table in place, like a driver rewriting the
 * RSSRK registers, and is not atomic against a concurrent `hash` on another thread.
 */
export class ToeplitzTable {
  readonly maxInputBytes: number;
  /** The key currently programmed (copy; at least maxInputBytes + 4 bytes). */
  readonly key: Uint8Array;
  /** table[i * 256 + x] = XOR of key windows for the set bits of byte x at input position i. */
  private readonly table: Uint32Array;
  /** Key windows of the 8 bits of one input byte; scratch for build_position. */
  private readonly windows = new Uint32Array(8);

  constructor(key: Uint8Array, maxInputBytes = 36) {
    if (!Number.isInteger(maxInputBytes) || maxInputBytes < 1 || maxInputBytes > 1024) {
      throw new RangeError(`ToeplitzTable: maxInputBytes ${maxInputBytes} not in [1, 1024]`);
    }
    this.maxInputBytes = maxInputBytes;
    this.key = new Uint8Array(maxInputBytes + 4);
    this.table = new Uint32Array(maxInputBytes * 256);
    this.setKey(key);
  }

  /** Program a new key (re-keying: `ethtool -X dev hkey ...`) and rebuild the table. */
  setKey(key: Uint8Array): void {
    if (key.length < this.maxInputBytes + 4) {
      throw new RangeError(`ToeplitzTable.setKey: key of ${key.length} bytes, need ${this.maxInputBytes + 4}`);
    }
    this.key.set(key.subarray(0, this.key.length)); // set-up path: allocation is fine here
    for (let i = 0; i < this.maxInputBytes; i++) this.build_position(i);
  }

  /** Fill the 256 entries of input byte position i. */
  private build_position(i: number): void {
    const w = this.windows;
    for (let bit = 0; bit < 8; bit++) w[bit] = key_window(this.key, i * 8 + bit);
    const base = i * 256;
    this.table[base] = 0;
    for (let x = 1; x < 256; x++) {
      const low = x & -x; // lowest set bit of x; its window index counts from the MSB
      const bitFromMsb = 7 - (31 - Math.clz32(low));
      this.table[base + x] = this.table[base + (x ^ low)] ^ w[bitFromMsb];
    }
  }

  /** Toeplitz hash of bytes[offset .. offset+length), length <= maxInputBytes; uint32. */
  hash(bytes: Uint8Array, offset: number, length: number): number {
    return this.hash_i32(bytes, offset, length) >>> 0;
  }

  /** hash() as the int32 bit pattern (for int32 hot paths: never boxed). */
  hash_i32(bytes: Uint8Array, offset: number, length: number): number {
    if (length > this.maxInputBytes || length < 0 || offset < 0 || offset + length > bytes.length) {
      throw toeplitz_bad_range('hash', offset, length);
    }
    const t = this.table;
    let result = 0;
    for (let i = 0; i < length; i++) result ^= t[(i << 8) | bytes[offset + i]];
    return result;
  }

  /**
   * The RSS hash of an IPv4 packet as the NIC computes it: input = saddr, daddr (IPv4 header
   * bytes 12..19) and, if withPorts (TCP/UDP hash types enabled, not a fragment), the L4
   * source and destination ports (the first 4 bytes of the L4 header, found via IHL). uint32.
   */
  hashIpv4(bytes: Uint8Array, ipHeaderOffset: number, withPorts: boolean): number {
    return this.hash_ipv4_i32(bytes, ipHeaderOffset, withPorts) >>> 0;
  }

  /** hashIpv4() as the int32 bit pattern (for int32 hot paths: never boxed). */
  hash_ipv4_i32(bytes: Uint8Array, ipHeaderOffset: number, withPorts: boolean): number {
    const ip = ipHeaderOffset;
    if (ip < 0 || ip + IPV4_HDR_LEN_MIN > bytes.length || this.maxInputBytes < RSS_IPV4_INPUT_BYTES) {
      throw toeplitz_bad_range('hashIpv4', ip, IPV4_HDR_LEN_MIN);
    }
    const t = this.table;
    const a = ip + IPV4_SADDR_OFFSET;
    let r =
      t[bytes[a]] ^
      t[256 | bytes[a + 1]] ^
      t[512 | bytes[a + 2]] ^
      t[768 | bytes[a + 3]] ^
      t[1024 | bytes[a + 4]] ^
      t[1280 | bytes[a + 5]] ^
      t[1536 | bytes[a + 6]] ^
      t[1792 | bytes[a + 7]];
    if (withPorts) r ^= this.hash_ports(bytes, ip);
    return r;
  }

  /**
   * The RSS hash of an IPv6 packet: input = saddr, daddr (IPv6 header bytes 8..39) and, if
   * withPorts, the L4 ports right after the fixed header (the caller checked that the next
   * header is TCP or UDP). uint32.
   */
  hashIpv6(bytes: Uint8Array, ipHeaderOffset: number, withPorts: boolean): number {
    return this.hash_ipv6_i32(bytes, ipHeaderOffset, withPorts) >>> 0;
  }

  /** hashIpv6() as the int32 bit pattern. */
  hash_ipv6_i32(bytes: Uint8Array, ipHeaderOffset: number, withPorts: boolean): number {
    const ip = ipHeaderOffset;
    const need = withPorts ? RSS_IPV6_L4_INPUT_BYTES : RSS_IPV6_INPUT_BYTES;
    if (ip < 0 || ip + 8 + need > bytes.length || this.maxInputBytes < need) throw toeplitz_bad_range('hashIpv6', ip, 8 + need);
    const t = this.table;
    let r = 0;
    for (let i = 0; i < need; i++) r ^= t[(i << 8) | bytes[ip + 8 + i]];
    return r;
  }

  /** Table contribution of the L4 ports at input positions 8..11. */
  private hash_ports(bytes: Uint8Array, ip: number): number {
    const ihl = bytes[ip] & 0x0f;
    const l4 = ip + (ihl << 2);
    if (ihl < 5 || l4 + 4 > bytes.length || this.maxInputBytes < RSS_IPV4_L4_INPUT_BYTES) {
      throw toeplitz_bad_range('hashIpv4 (L4 ports, IHL ' + ihl + ')', l4, 4);
    }
    const t = this.table;
    return t[2048 | bytes[l4]] ^ t[2304 | bytes[l4 + 1]] ^ t[2560 | bytes[l4 + 2]] ^ t[2816 | bytes[l4 + 3]];
  }
}
