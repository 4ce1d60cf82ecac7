/**
 * Test scene for the deposit watcher: a real EDR chain with the contracts deployed, a gateway
 * address, and a watcher + prepaid ledger on a real gateway store (PGlite). `watcher()` opens a
 * fresh watcher on the same store (a restart). The public client goes through a transport that records every
 * JSON-RPC call the watcher makes (the chain still answers each one) and can fail a chosen one.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deploy } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import type { Deployment } from "@verity/core";
import { createPublicClient, custom, type EIP1193Provider, type PublicClient } from "viem";
import { createDepositWatcher, type DepositWatcherOptions } from "./deposit-watcher.ts";
import { createPrepaidLedger, type PrepaidLedger } from "./prepaid-ledger.ts";
import type { GatewayStore } from "./store/index.ts";
import { openTestStore } from "./store/store-testing.ts";

export type RpcCall = { method: string; params: unknown };

export type DepositScene = {
  t: TestChain;
  deployment: Deployment;
  gateway: `0x${string}`;
  store: GatewayStore;
  ledger: PrepaidLedger;
  calls: RpcCall[];
  /** Makes the next call of `method` fail (after `skip` successful ones). */
  failNext(method: string, skip?: number): void;
  watcher(options?: Partial<DepositWatcherOptions>): ReturnType<typeof createDepositWatcher>;
  close(): Promise<void>;
};

export async function createDepositScene(): Promise<DepositScene> {
  const t = await createTestChain();
  const deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  const contract = deployment.contracts.GatewayDeposits;
  if (!contract) throw new Error("the deployment has no GatewayDeposits");
  const stateDir = mkdtempSync(join(tmpdir(), "verity-deposits-"));
  const store = await openTestStore({ stateDir });
  const ledger = createPrepaidLedger({ store });
  const calls: RpcCall[] = [];
  const failures: { method: string; skip: number }[] = [];
  const recording: EIP1193Provider = {
    ...t.edr.provider,
    request: (async (args: { method: string; params?: unknown }) => {
      calls.push({ method: args.method, params: args.params });
      const failure = failures.find((f) => f.method === args.method);
      if (failure) {
        if (failure.skip === 0) {
          failures.splice(failures.indexOf(failure), 1);
          throw new Error(`${args.method} failed (injected)`);
        }
        failure.skip--;
      }
      return t.edr.provider.request(args as never);
    }) as EIP1193Provider["request"],
  };
  const publicClient = createPublicClient({ chain: t.chain, transport: custom(recording, { retryCount: 0 }) });
  const gateway = t.account("gateway").address;
  return {
    t,
    deployment,
    gateway,
    store,
    ledger,
    calls,
    failNext(method, skip = 0) {
      failures.push({ method, skip });
    },
    watcher: (options = {}) =>
      createDepositWatcher({
        store,
        ledger,
        publicClient: publicClient as PublicClient,
        depositsContract: contract.address,
        token: deployment.token.address,
        gateway,
        startBlock: BigInt(contract.block),
        ...options,
      }),
    close: async () => {
      await store.close();
      await t.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
