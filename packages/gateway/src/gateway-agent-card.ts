/**
 * The gateway's A2A v1.0 Agent Card (`/.well-known/agent-card.json`), for discovery: one skill per
 * model it routes, with the range of its providers' prices (plus the gateway's fee); the payments
 * it accepts (API keys over a prepaid balance, its x402 door); its ERC-8004 agent id and registry;
 * and a signature by its registered key, made by the provider's `signAgentCard` so the SDK's
 * `verifyAgentCard` checks both the same way. The gateway takes no A2A tasks: its card names its
 * OpenAI-compatible front door instead of an A2A interface.
 */
import { type AgentSkillPrice, VERITY_A2A_EXTENSION_URI } from "@verity/core";
import { createSignedCardSource, type signAgentCard, X402_A2A_EXTENSION_URI } from "@verity/provider";
import type { LocalAccount } from "viem";
import type { RouteOffer } from "./routing-policy.ts";
import { userPrice } from "./user-price.ts";

/** An A2A v1.0 Agent Card (the `@a2a-js/sdk` type, as the provider signs it). */
export type AgentCard = Parameters<typeof signAgentCard>[0]["card"];

/** A model the gateway routes: the cheapest offer's prices as the skill's price, and the range. */
export type GatewaySkillPrice = AgentSkillPrice & {
  /** Dearest offer's prices per 1M tokens (the cheapest are `inputPerMTok` / `outputPerMTok`). */
  maxInputPerMTok: string;
  maxOutputPerMTok: string;
  /** Healthy providers offering the model now. */
  providers: number;
  /** What the caller pays on top of the provider's charge, in basis points. */
  feeBps: number;
};

export type GatewayCardInput = {
  baseUrl: string;
  chainId: number;
  agentId: bigint;
  agentRegistry: `0x${string}`;
  paymentChannels: `0x${string}`;
  token: `0x${string}`;
  /** The gateway's address: API-key deposits name it, x402 pays it. */
  address: `0x${string}`;
  depositsContract: `0x${string}`;
  feeBps: number;
  /** x402 schemes the gateway's door takes (empty: none). */
  x402Schemes: readonly string[];
  offers: readonly RouteOffer[];
};

/** The skills: one per model among healthy offers, priced from the cheapest to the dearest (fee included). */
export function gatewaySkills(offers: readonly RouteOffer[], feeBps: number): Record<string, GatewaySkillPrice> {
  const skills: Record<string, GatewaySkillPrice> = {};
  const byModel = new Map<string, RouteOffer[]>();
  for (const o of offers) if (o.healthy) byModel.set(o.model, [...(byModel.get(o.model) ?? []), o]);
  for (const [model, list] of [...byModel].sort(([a], [b]) => a.localeCompare(b))) {
    const ins = list.map((o) => userPrice(o.inputPricePerMTok, feeBps));
    const outs = list.map((o) => userPrice(o.outputPricePerMTok, feeBps));
    const min = (xs: bigint[]) => xs.reduce((m, x) => (x < m ? x : m));
    const max = (xs: bigint[]) => xs.reduce((m, x) => (x > m ? x : m));
    skills[model] = {
      modelId: (list[0] as RouteOffer).modelId.toString(),
      unit: "token",
      inputPerMTok: min(ins).toString(),
      outputPerMTok: min(outs).toString(),
      maxInputPerMTok: max(ins).toString(),
      maxOutputPerMTok: max(outs).toString(),
      maxOutputTokens: Math.max(...list.map((o) => o.maxOutputTokens)),
      providers: list.length,
      feeBps,
    };
  }
  return skills;
}

/** The unsigned card. */
export function buildGatewayAgentCard(input: GatewayCardInput, signer: `0x${string}`): AgentCard {
  const skills = gatewaySkills(input.offers, input.feeBps);
  const network = `eip155:${input.chainId}`;
  const accepts = [
    {
      scheme: "api-key",
      network,
      asset: input.token,
      payTo: input.address,
      description: `A prepaid balance behind an API key: deposit through GatewayDeposits (${input.depositsContract}) naming this gateway, sign in at ${input.baseUrl}/v1/keys`,
    },
    ...input.x402Schemes.map((scheme) => ({
      scheme,
      network,
      asset: input.token,
      payTo: input.address,
      description: `x402 ${scheme}, keyless per request (see the PAYMENT-REQUIRED header of ${input.baseUrl}/v1/chat/completions)`,
    })),
  ];
  return {
    name: "Verity gateway",
    description:
      "An OpenAI-compatible front door over every Verity provider: routes by price, latency and reliability under OpenRouter-style provider preferences, pays providers with verified vouchers",
    supportedInterfaces: [],
    provider: { organization: `Verity agent ${input.agentId}`, url: input.baseUrl },
    version: "1.0.0",
    documentationUrl: `${input.baseUrl}/v1/models`,
    capabilities: {
      streaming: true,
      pushNotifications: false,
      extensions: [
        {
          uri: X402_A2A_EXTENSION_URI,
          description: "How to pay the gateway's OpenAI-compatible routes (it takes no A2A tasks)",
          required: false,
          params: { accepts, openaiBaseUrl: `${input.baseUrl}/v1`, quote: `${input.baseUrl}/v1/quote` },
        },
        {
          uri: VERITY_A2A_EXTENSION_URI,
          description:
            "ERC-8004 identity, contracts and per-model price ranges (fee included); the card is signed by the registered key",
          required: false,
          params: {
            role: "gateway",
            chainId: input.chainId,
            agentId: input.agentId.toString(),
            agentRegistry: input.agentRegistry,
            paymentChannels: input.paymentChannels,
            token: input.token,
            signer,
            skills,
          },
        },
      ],
    },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: Object.entries(skills).map(([model, s]) => ({
      id: model,
      name: model,
      description: `${model} from ${s.providers} provider(s), ${s.outputPerMTok}–${s.maxOutputPerMTok} per 1M output tokens (base units, fee included)`,
      tags: ["inference", "llm", "gateway"],
      examples: [],
      inputModes: ["text/plain"],
      outputModes: ["text/plain"],
      securityRequirements: [],
    })),
    signatures: [],
  };
}

/** The signed card, re-signed only when the skills (models, prices, provider counts) or URL change. */
export function createGatewayCardSource(args: { input: () => GatewayCardInput; account: LocalAccount }) {
  return createSignedCardSource({
    ...args,
    keyOf: (input) => JSON.stringify([input.baseUrl, gatewaySkills(input.offers, input.feeBps), input.x402Schemes]),
    build: buildGatewayAgentCard,
  });
}
