/**
 * Sends the validator's transactions one at a time (one account, one nonce sequence), waiting for
 * each receipt; a revert becomes a `ChainError` carrying the contract's reason code.
 */
import { type ChainClients, toChainError } from "@verity/chain";
import type { Abi, TransactionReceipt } from "viem";

export type ContractWrite = {
  address: `0x${string}`;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
};

export function createTxSender(clients: ChainClients) {
  let tail: Promise<unknown> = Promise.resolve();

  function send(what: string, write: ContractWrite): Promise<TransactionReceipt> {
    const run = tail.then(async () => {
      try {
        return await clients.transact(what, () =>
          clients.walletClient.writeContract({
            ...write,
            chain: clients.chain,
            account: clients.account,
          } as never),
        );
      } catch (error) {
        throw error instanceof Error && "code" in error ? error : toChainError(what, error);
      }
    });
    tail = run.catch(() => undefined);
    return run;
  }

  return { send, address: clients.account.address };
}

export type TxSender = ReturnType<typeof createTxSender>;
