import { resolve } from "node:path";
import { type ChainClients, connectChain, readDeployment, verifyDeployment } from "@verity/chain";
import { ConfigError, type Deployment } from "@verity/core";
import { getAddress, isAddress, type LocalAccount, zeroAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { hasSigningKey, readSigningKey } from "./read-key.ts";

/** The flags every role command shares. */
export type ChainFlags = { rpc: string; deployment: string; key?: string; keyFile?: string; keystore?: string };

export type ChainContext = {
  deployment: Deployment;
  clients: ChainClients;
  /** The signing account, when a key was given (always, with `needKey`). */
  account: LocalAccount | undefined;
};

/**
 * Reads the deployment file and the key, connects to the RPC endpoint and checks that it is the
 * deployment's chain and holds its contracts (`deployment_mismatch` otherwise). Without `needKey`,
 * a key is used when one is given and the clients are read-only otherwise.
 */
export async function openChainContext(flags: ChainFlags & { needKey: boolean }): Promise<ChainContext> {
  const deployment = readDeployment(resolve(flags.deployment));
  const account = flags.needKey || hasSigningKey(flags) ? privateKeyToAccount(await readSigningKey(flags)) : undefined;
  const clients = await connectChain({
    rpcUrl: flags.rpc,
    account: account ?? { address: zeroAddress, type: "json-rpc" },
  });
  await verifyDeployment({ publicClient: clients.publicClient, deployment });
  return { deployment, clients, account };
}

/** A checksummed address from a flag or argument, or a clear error naming it. */
export function parseAddress(what: string, value: string): `0x${string}` {
  if (!isAddress(value, { strict: false })) {
    throw new ConfigError(`${what} is not an address: ${JSON.stringify(value)}`, {
      code: "invalid_parameter",
      hint: "Give a 0x-prefixed 20-byte hex address",
    });
  }
  return getAddress(value);
}

/** The address a command acts on: the argument, else the key's account, else an error saying what to pass. */
export function targetAddress(args: { address: string | undefined; account: LocalAccount | undefined }): `0x${string}` {
  if (args.address) return parseAddress("The address", args.address);
  if (args.account) return args.account.address;
  throw new ConfigError("No address given", {
    code: "invalid_parameter",
    hint: "Pass an address, or a key with --key-file/--keystore (or VERITY_KEY_FILE/VERITY_KEY/VERITY_KEYSTORE) to use its address",
  });
}
