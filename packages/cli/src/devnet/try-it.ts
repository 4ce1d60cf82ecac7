import type { DevnetReady } from "./devnet.ts";

/** The human summary printed once the devnet is ready (not in `--json` mode). */
export function formatTryIt(ready: DevnetReady): string {
  const model = ready.providers[0]?.model ?? "verity-tiny";
  const x402Key = ready.accounts.find((a) => a.name === "client-2");
  const chat = `{"model":"${model}","messages":[{"role":"user","content":"hi"}],"max_tokens":32}`;
  const lines = [
    "",
    `Verity devnet is ready${ready.restored ? " (resumed)" : ""} — chain ${ready.chainId} at ${ready.rpcUrl}`,
    `  state folder        ${ready.stateDir}`,
    `  deployment file     ${ready.deploymentFile}`,
    `  payment token       ${ready.deployment.token.symbol} ${ready.deployment.token.address}`,
    ...Object.entries(ready.deployment.contracts).map(([name, c]) => `  ${name.padEnd(20)}${c?.address}`),
    "",
    "Providers (prices per 1M tokens, in TestUSD base units):",
    ...ready.providers.map(
      (p) =>
        `  agent ${p.agentId.padEnd(3)} ${p.url}/v1  ${p.model}  in ${p.priceIn}  out ${p.priceOut}${p.cheater ? "  (cheater)" : ""}`,
    ),
    ...(ready.validators.length > 0
      ? [
          "",
          `Validators (committee of 3 per dispute; the gateway sends ${ready.audit.p * 100}% of paid answers for audit):`,
          ...ready.validators.map((v) => `  agent ${v.agentId.padEnd(3)} ${v.url}  ${v.name}`),
        ]
      : ["", "Validators: none (--validators 0): answers are not audited"]),
    "",
    `Gateway   ${ready.gatewayUrl}/v1   API key (1,000 TUSD prepaid): ${ready.gatewayApiKey}`,
    `Explorer  ${ready.explorerUrl}`,
    ...(ready.traffic ? [`Traffic   ${ready.traffic.rps} paid request(s)/s through the gateway`] : []),
    "",
    "Try it:",
    `  curl -s ${ready.gatewayUrl}/v1/chat/completions -H 'authorization: Bearer ${ready.gatewayApiKey}' \\`,
    `    -H 'content-type: application/json' -d '${chat}'`,
    `  curl -s '${ready.gatewayUrl}/v1/quote?model=${model}&max_tokens=64'`,
    "",
    "  // the official openai client (npm i openai)",
    `  import OpenAI from "openai";`,
    `  const openai = new OpenAI({ baseURL: "${ready.gatewayUrl}/v1", apiKey: "${ready.gatewayApiKey}" });`,
    `  const reply = await openai.chat.completions.create({ model: "${model}", messages: [{ role: "user", content: "hi" }] });`,
    "",
    "  # another key for the same balance, scoped for an agent (signs in with client-1's devnet key)",
    `  VERITY_KEY=${ready.accounts.find((a) => a.name === "client-1")?.privateKey ?? "0x…"} \\`,
    `    npm run verity -- keys create --gateway ${ready.gatewayUrl} --spend-limit 5 --models ${model} --expires 24h --label agent`,
    "",
    "  // no key: pay per request with x402 (npm i @x402/fetch @x402/core @x402/evm viem)",
    `  import { wrapFetchWithPayment } from "@x402/fetch"; import { x402Client } from "@x402/core/client";`,
    `  import { toClientEvmSigner } from "@x402/evm"; import { ExactEvmScheme } from "@x402/evm/exact/client";`,
    `  import { privateKeyToAccount } from "viem/accounts";`,
    `  const account = privateKeyToAccount("${x402Key?.privateKey ?? "0x…"}"); // ${x402Key?.name ?? "client-2"}, devnet only`,
    `  const client = new x402Client().register("eip155:${ready.chainId}", new ExactEvmScheme(toClientEvmSigner(account)))`,
    `    .setSpendControls({ allowedAssets: [{ network: "eip155:${ready.chainId}", asset: "${ready.deployment.token.address}", maxAmountPerPayment: "1000000" }] });`,
    `  const pay = wrapFetchWithPayment(fetch, client);`,
    `  const res = await pay("${ready.gatewayUrl}/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" },`,
    `    body: JSON.stringify({ model: "${model}", messages: [{ role: "user", content: "hi" }], max_tokens: 16 }) });`,
    "  // or many requests over one x402 batch-settlement channel (one deposit, then off-chain vouchers):",
    `  //   import { BatchSettlementEvmScheme } from "@x402/evm/batch-settlement/client";`,
    `  //   register("eip155:${ready.chainId}", new BatchSettlementEvmScheme(toClientEvmSigner(account, publicClient)))`,
    "  //   — the gateway and every provider accept it (providers directly, at their own URL)",
    "",
    `  curl -s -X POST ${ready.rpcUrl} -H 'content-type: application/json' \\`,
    `    -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}'`,
    "",
    "Funded test accounts — devnet-only keys, never use them elsewhere (they are public):",
    ...ready.accounts.map((a) => `  ${a.name.padEnd(12)} ${a.address}  ${a.privateKey}`),
    "",
    "Press Ctrl-C to stop (a second Ctrl-C forces it).",
  ];
  return `${lines.join("\n")}\n`;
}
