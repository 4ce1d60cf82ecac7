import { bytesToHex } from "viem";
import { mnemonicToAccount } from "viem/accounts";

/**
 * The well-known public test mnemonic (the one Hardhat and Anvil use). Keys derived from it are
 * public: they must only ever hold devnet funds.
 */
export const DEVNET_MNEMONIC = "test test test test test test test test test test test junk";

export type DevnetRole = "deployer" | "treasury" | "provider" | "client" | "validator" | "gateway" | "modelOwner";

export type DevnetAccount = {
  role: DevnetRole;
  /** Role name with its index, e.g. `provider-2`. */
  name: string;
  address: `0x${string}`;
  privateKey: `0x${string}`;
};

/** How many devnet accounts of each role exist (in this order on the HD path). */
export const DEVNET_LAYOUT: readonly (readonly [DevnetRole, number])[] = [
  ["deployer", 1],
  ["treasury", 1],
  ["modelOwner", 1],
  ["gateway", 1],
  ["provider", 6],
  ["client", 6],
  ["validator", 5],
];

export function devnetAccounts(): DevnetAccount[] {
  const out: DevnetAccount[] = [];
  let index = 0;
  for (const [role, count] of DEVNET_LAYOUT) {
    for (let i = 1; i <= count; i++) {
      const account = mnemonicToAccount(DEVNET_MNEMONIC, { addressIndex: index++ });
      const key = account.getHdKey().privateKey;
      if (!key) throw new Error("HD derivation produced no private key");
      out.push({
        role,
        name: count === 1 ? role : `${role}-${i}`,
        address: account.address,
        privateKey: bytesToHex(key),
      });
    }
  }
  return out;
}
