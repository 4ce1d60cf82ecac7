import type { ChainClients } from "@verity/chain";
import { gatewayDepositsAbi, testUSDAbi } from "@verity/contracts";
import { ConfigError, type Deployment, PaymentError, permitTypes } from "@verity/core";
import { parseSignature } from "viem";

export type GatewayDepositResult = {
  txHash: `0x${string}`;
  block: bigint;
  gateway: `0x${string}`;
  account: `0x${string}`;
  amount: bigint;
};

/**
 * Deposits `amount` of the payment token from the connected account to `gateway` through the
 * deployment's GatewayDeposits contract, credited there to `account` (default: the sender). One
 * transaction: an EIP-2612 permit for exactly `amount`, then `depositWithPermit`. A plain transfer
 * to a gateway credits nothing; this is the way to fund an API key.
 */
export async function sendGatewayDeposit(options: {
  clients: ChainClients;
  deployment: Deployment;
  gateway: `0x${string}`;
  account?: `0x${string}`;
  amount: bigint;
}): Promise<GatewayDepositResult> {
  const { clients, deployment, amount } = options;
  const contract = deployment.contracts.GatewayDeposits;
  if (!contract) {
    throw new ConfigError("The deployment has no GatewayDeposits contract", {
      code: "deployment_outdated",
      hint: "Redeploy with `verity deploy` to get a deployment file with GatewayDeposits",
    });
  }
  if (amount <= 0n) {
    throw new ConfigError("The deposit amount must be positive", {
      code: "invalid_parameter",
      hint: "Pass e.g. --amount 10",
    });
  }
  const owner = clients.account.address;
  const token = deployment.token.address;
  const account = options.account ?? owner;
  const [balance, nonce, latest] = await Promise.all([
    clients.publicClient.readContract({ address: token, abi: testUSDAbi, functionName: "balanceOf", args: [owner] }),
    clients.publicClient.readContract({ address: token, abi: testUSDAbi, functionName: "nonces", args: [owner] }),
    clients.publicClient.getBlock({ blockTag: "latest" }),
  ]);
  if (balance < amount) {
    throw new PaymentError(
      `${owner} holds ${balance} ${deployment.token.symbol} base units, not the ${amount} to deposit`,
      {
        code: "erc20_insufficient_balance",
        hint: `Fund ${owner} with ${deployment.token.symbol} (on a devnet: \`verity wallet faucet\`), or deposit less`,
        details: { payer: owner, balance: balance.toString(), needed: amount.toString() },
      },
    );
  }
  await clients.requireFunds({ gas: 200_000n, what: "deposit to the gateway" });
  const deadline = latest.timestamp + 3_600n;
  const signature = await clients.walletClient.signTypedData({
    account: clients.account,
    domain: {
      name: deployment.token.name,
      version: deployment.token.version,
      chainId: deployment.chainId,
      verifyingContract: token,
    },
    types: permitTypes,
    primaryType: "Permit",
    message: { owner, spender: contract.address, value: amount, nonce, deadline },
  });
  const { r, s, v, yParity } = parseSignature(signature);
  const receipt = await clients.transact("Depositing to the gateway", () =>
    clients.walletClient.writeContract({
      address: contract.address,
      abi: gatewayDepositsAbi,
      functionName: "depositWithPermit",
      args: [token, options.gateway, account, amount, deadline, Number(v ?? BigInt(yParity + 27)), r, s],
      chain: clients.chain,
      account: clients.account,
    }),
  );
  return { txHash: receipt.transactionHash, block: receipt.blockNumber, gateway: options.gateway, account, amount };
}
