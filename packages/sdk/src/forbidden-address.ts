/**
 * Which IP addresses a server must not connect to on behalf of an endpoint URL it learned from the
 * chain: loopback, private, CGNAT, link-local, "this network", multicast, broadcast and the reserved
 * and documentation ranges, in IPv4 and IPv6, including IPv4 addresses embedded in IPv6 forms
 * (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`).
 */
import { isIP } from "node:net";

type Range = { prefix: number[]; bits: number; name: string };

function range(cidr: string, name: string): Range {
  const [address = "", bits = ""] = cidr.split("/");
  const prefix = isIP(address) === 4 ? parseV4(address) : parseV6(address);
  if (!prefix) throw new Error(`bad range ${cidr}`);
  return { prefix, bits: Number(bits), name };
}

const V4: Range[] = [
  range("0.0.0.0/8", "this-network"),
  range("10.0.0.0/8", "private"),
  range("100.64.0.0/10", "cgnat"),
  range("127.0.0.0/8", "loopback"),
  range("169.254.0.0/16", "link-local"),
  range("172.16.0.0/12", "private"),
  range("192.0.0.0/24", "reserved"),
  range("192.0.2.0/24", "documentation"),
  range("192.88.99.0/24", "reserved"),
  range("192.168.0.0/16", "private"),
  range("198.18.0.0/15", "benchmarking"),
  range("198.51.100.0/24", "documentation"),
  range("203.0.113.0/24", "documentation"),
  range("224.0.0.0/4", "multicast"),
  range("240.0.0.0/4", "reserved"), // includes the broadcast address 255.255.255.255
];

const V6: Range[] = [
  range("::/128", "unspecified"),
  range("::1/128", "loopback"),
  range("64:ff9b:1::/48", "nat64-local"),
  range("100::/64", "discard"),
  range("2001:db8::/32", "documentation"),
  range("fc00::/7", "unique-local"),
  range("fe80::/10", "link-local"),
  range("fec0::/10", "site-local"),
  range("ff00::/8", "multicast"),
];

/** IPv6 prefixes that carry an IPv4 address: the bytes it sits at, checked against the IPv4 ranges. */
const EMBEDDED: { range: Range; at: number }[] = [
  { range: range("::ffff:0:0/96", "ipv4-mapped"), at: 12 },
  { range: range("::/96", "ipv4-compatible"), at: 12 },
  { range: range("64:ff9b::/96", "nat64"), at: 12 },
  { range: range("2002::/16", "6to4"), at: 2 },
];

function parseV4(s: string): number[] | undefined {
  const parts = s.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.map(Number);
}

function parseV6(input: string): number[] | undefined {
  const s = input.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (isIP(s) !== 6) return undefined;
  const halves = s.split("::");
  const groups = (half: string | undefined): number[] | undefined => {
    if (!half) return [];
    const out: number[] = [];
    for (const g of half.split(":")) {
      if (g.includes(".")) {
        const v4 = parseV4(g);
        if (!v4) return undefined;
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      } else out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length > 1 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const words = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

function matches(bytes: number[], r: Range): boolean {
  if (bytes.length !== r.prefix.length) return false;
  for (let bit = 0; bit < r.bits; bit++) {
    const i = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if (((bytes[i] ?? 0) & mask) !== ((r.prefix[i] ?? 0) & mask)) return false;
  }
  return true;
}

function v4Reason(bytes: number[]): string | undefined {
  const hit = V4.find((r) => matches(bytes, r));
  return hit ? `${hit.name} ${bytes.join(".")}` : undefined;
}

/**
 * Why a server must not connect to `address` (e.g. `"loopback 127.0.0.1"`), or undefined when it is a
 * public unicast address. Anything that is not an IP literal is refused (`"not-an-ip"`).
 */
export function forbiddenAddressReason(address: string): string | undefined {
  const bare = address.replace(/^\[|\]$/g, "");
  const family = isIP(bare.replace(/%.*$/, ""));
  if (family === 4) return v4Reason(parseV4(bare) ?? []);
  const bytes = family === 6 ? parseV6(bare) : undefined;
  if (!bytes) return `not-an-ip ${address}`;
  const hit = V6.find((r) => matches(bytes, r));
  if (hit) return `${hit.name} ${bare}`;
  for (const e of EMBEDDED) {
    if (!matches(bytes, e.range)) continue;
    const inner = v4Reason(bytes.slice(e.at, e.at + 4));
    if (inner) return `${e.range.name} ${inner}`;
  }
  return undefined;
}
