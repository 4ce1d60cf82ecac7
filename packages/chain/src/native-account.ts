import { domainSeparator, type Hex, hexToBytes, keccak256, type LocalAccount, stringToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { hexBuffer, keccakBytes, signDigest } from "./native-crypto.ts";

type Field = { name: string; type: string };
type TypedData = {
  domain?: Record<string, unknown>;
  types: Record<string, readonly Field[]>;
  primaryType: string;
  message: Record<string, unknown>;
};

/** Word encoders for EIP-712 atomic types whose encoding is one 32-byte word of the value itself. */
function wordEncoder(type: string): ((value: unknown, into: Uint8Array, offset: number) => boolean) | undefined {
  const uint = /^uint(\d+)$/.exec(type);
  if (uint) {
    const max = (1n << BigInt(uint[1] ?? 256)) - 1n;
    return (value, into, offset) => {
      if (typeof value !== "bigint" && typeof value !== "number") return false;
      let v = BigInt(value);
      if (v < 0n || v > max) return false;
      for (let i = 31; i >= 0; i--) {
        into[offset + i] = Number(v & 0xffn);
        v >>= 8n;
      }
      return true;
    };
  }
  if (type === "bytes32") {
    return (value, into, offset) => {
      const bytes = typeof value === "string" ? hexBuffer(value, 32) : undefined;
      if (!bytes) return false;
      into.set(bytes, offset);
      return true;
    };
  }
  if (type === "address") {
    return (value, into, offset) => {
      const bytes = typeof value === "string" ? hexBuffer(value, 20) : undefined;
      if (!bytes) return false;
      into.fill(0, offset, offset + 12);
      into.set(bytes, offset + 12);
      return true;
    };
  }
  if (type === "bool") {
    return (value, into, offset) => {
      if (typeof value !== "boolean") return false;
      into.fill(0, offset, offset + 32);
      into[offset + 31] = value ? 1 : 0;
      return true;
    };
  }
  return undefined;
}

type Plan = { typeHash: Uint8Array; fields: { name: string; encode: NonNullable<ReturnType<typeof wordEncoder>> }[] };

/**
 * EIP-712 digests for structs made only of one-word atomic fields (uintN, bytes32, address, bool) —
 * vouchers and receipts — with native keccak; `undefined` for anything else (the caller falls back
 * to viem). The type string of such a struct is `Name(type name,…)`.
 */
export function createStaticTypedDataHasher() {
  const plans = new Map<string, Plan | null>();
  const separators = new Map<string, Uint8Array>();

  function plan(types: TypedData["types"], primaryType: string): Plan | undefined {
    const fieldsOf = types[primaryType];
    const key = `${primaryType}(${fieldsOf?.map((f) => `${f.type} ${f.name}`).join(",") ?? ""})`;
    const cached = plans.get(key);
    if (cached !== undefined) return cached ?? undefined;
    let built: Plan | null = null;
    // Only the primary type and the domain may be declared: nested structs change the type string.
    const others = Object.keys(types).filter((t) => t !== primaryType && t !== "EIP712Domain");
    if (fieldsOf && others.length === 0) {
      const fields = fieldsOf.map((f) => ({ name: f.name, encode: wordEncoder(f.type) }));
      if (fields.every((f) => f.encode)) {
        built = {
          typeHash: hexToBytes(keccak256(stringToHex(key))),
          fields: fields as Plan["fields"],
        };
      }
    }
    plans.set(key, built);
    return built ?? undefined;
  }

  function separator(domain: Record<string, unknown>): Uint8Array {
    const key = JSON.stringify(domain, (_, v) => (typeof v === "bigint" ? `${v}n` : v));
    let out = separators.get(key);
    if (!out) {
      out = hexToBytes(domainSeparator({ domain: domain as never }));
      separators.set(key, out);
    }
    return out;
  }

  return {
    digest(data: TypedData): Uint8Array | undefined {
      const p = plan(data.types, data.primaryType);
      if (!p) return undefined;
      const struct = new Uint8Array(32 * (1 + p.fields.length));
      struct.set(p.typeHash, 0);
      for (let i = 0; i < p.fields.length; i++) {
        const field = p.fields[i] as Plan["fields"][number];
        if (!field.encode(data.message[field.name], struct, 32 * (i + 1))) return undefined;
      }
      const input = new Uint8Array(66);
      input[0] = 0x19;
      input[1] = 0x01;
      input.set(separator(data.domain ?? {}), 2);
      input.set(keccakBytes(struct), 34);
      return keccakBytes(input);
    },
  };
}

/**
 * A viem local account for `privateKey` whose `signTypedData` signs one-word-field structs
 * (vouchers, receipts) with libsecp256k1 and native keccak — the same RFC 6979 signature viem
 * computes, about twenty times faster — and hands everything else to viem.
 */
export function createNativeAccount(privateKey: Hex): LocalAccount {
  const base = privateKeyToAccount(privateKey);
  const key = hexToBytes(privateKey);
  const hasher = createStaticTypedDataHasher();
  return {
    ...base,
    async signTypedData(parameters) {
      const digest = hasher.digest(parameters as unknown as TypedData);
      if (!digest) return base.signTypedData(parameters);
      return signDigest(digest, key);
    },
  } as LocalAccount;
}
