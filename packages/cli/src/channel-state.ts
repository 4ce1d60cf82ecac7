import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { createNativeAccount } from "@verity/chain";
import type { Deployment } from "@verity/core";
import { createChannelOps, createChannelStore, loadOrCreateSecret, openClientState } from "@verity/sdk";
import type { LocalAccount } from "viem";
import type { ChainContext } from "./chain-context.ts";

/** Default client state dir, shared with `createVerityClient({ stateDir })` of the SDK. */
export const DEFAULT_CLIENT_STATE_DIR = ".verity/client";

/**
 * The SDK's durable client state in `stateDir` (channels, the voucher-signing key) with its channel
 * operations, so channels the CLI opens are the ones an SDK client with the same state dir pays with.
 */
export async function openChannelState(args: { context: ChainContext; account: LocalAccount; stateDir: string }) {
  const stateDir = resolve(args.stateDir);
  const { deployment, clients } = args.context;
  const db = openClientState({ stateDir, deployment });
  try {
    const store = createChannelStore(db);
    const authorizer = createNativeAccount(loadOrCreateSecret(stateDir, "authorizer.key"));
    const ops = createChannelOps({ clients, payer: args.account, deployment, store, authorizer: authorizer.address });
    await ops.reconcileOpening();
    return { store, ops, authorizer: authorizer.address, close: () => db.close() };
  } catch (error) {
    db.close();
    throw error;
  }
}

/** The channels recorded in `stateDir` (read-only; none when the state dir was never used). */
export function readStoredChannels(args: { stateDir: string; deployment: Deployment }) {
  const stateDir = resolve(args.stateDir);
  if (!existsSync(join(stateDir, "client.sqlite"))) return [];
  const db = openClientState({ stateDir, deployment: args.deployment });
  try {
    return createChannelStore(db).list();
  } finally {
    db.close();
  }
}
