/**
 * The A2A v1.0 Agent Card a Verity provider (or `verity agent serve` agent) publishes at
 * `/.well-known/agent-card.json`: one skill per served model, its price, the accepted payments
 * (Verity vouchers and x402, per the a2a-x402 extension), the ERC-8004 agent id and registry, and
 * a signature by the agent's registered key (see `@verity/core` agent-card-signature).
 */
import { type AgentCard, canonicalizeAgentCard } from "@a2a-js/sdk";
import {
  type AgentRef,
  type AgentSkillPrice,
  agentCardProtectedHeader,
  agentCardSigningInput,
  VERITY_A2A_EXTENSION_URI,
} from "@verity/core";
import type { LocalAccount } from "viem";
import type { ServedModel } from "./served-model.ts";

/** The a2a-x402 extension this card declares (payment-required / -submitted / -completed states). */
export const X402_A2A_EXTENSION_URI = "https://github.com/google-agentic-commerce/a2a-x402/blob/main/spec/v0.2";
/** The path of the A2A JSON-RPC endpoint on a provider. */
export const A2A_PATH = "/a2a";

export type VerityExtensionParams = {
  chainId: number;
  agentId: string;
  agentRegistry: `0x${string}`;
  paymentChannels: `0x${string}`;
  token: `0x${string}`;
  /** The address that signs the card and receipts (the registry's agent wallet, else its owner). */
  signer: `0x${string}`;
  skills: Record<string, AgentSkillPrice>;
};

export type AgentCardInput = {
  name: string;
  description: string;
  baseUrl: string;
  chainId: number;
  agentId: bigint;
  agentRegistry: `0x${string}`;
  paymentChannels: `0x${string}`;
  token: `0x${string}`;
  models: Iterable<ServedModel>;
  /** x402 batch-settlement is offered besides vouchers. */
  x402: boolean;
  /** Per-model skill descriptions (default: a generic one). */
  skillDescription?: (model: ServedModel) => string;
  /** Models whose price is per task (handler agents): name → flat task price. */
  taskPrices?: ReadonlyMap<string, bigint>;
};

/** The unsigned card. */
export function buildAgentCard(input: AgentCardInput, signer: `0x${string}`): AgentCard {
  const models = [...input.models];
  const skills: Record<string, AgentSkillPrice> = {};
  for (const m of models) {
    const perTask = input.taskPrices?.get(m.name);
    skills[m.name] = {
      modelId: m.modelId.toString(),
      unit: perTask === undefined ? "token" : "task",
      ...(perTask === undefined ? {} : { perTask: perTask.toString() }),
      inputPerMTok: m.price.inputPerMTok.toString(),
      outputPerMTok: m.price.outputPerMTok.toString(),
      maxOutputTokens: m.maxOutputTokens,
    };
  }
  const verity: VerityExtensionParams = {
    chainId: input.chainId,
    agentId: input.agentId.toString(),
    agentRegistry: input.agentRegistry,
    paymentChannels: input.paymentChannels,
    token: input.token,
    signer,
    skills,
  };
  const accepts = [
    {
      scheme: "verity-channel",
      network: `eip155:${input.chainId}`,
      asset: input.token,
      payTo: `agent:${input.agentId}`,
      description: "A Verity voucher (EIP-712) on a payment channel to this agent id for the skill's model",
    },
    ...(input.x402
      ? [
          {
            scheme: "batch-settlement",
            network: `eip155:${input.chainId}`,
            asset: input.token,
            description: "x402 batch-settlement (see the PAYMENT-REQUIRED header of the skill's HTTP route)",
          },
        ]
      : []),
  ];
  return {
    name: input.name,
    description: input.description,
    supportedInterfaces: [
      { url: `${input.baseUrl}${A2A_PATH}`, protocolBinding: "JSONRPC", tenant: "", protocolVersion: "1.0" },
    ],
    provider: { organization: `Verity agent ${input.agentId}`, url: input.baseUrl },
    version: "1.0.0",
    documentationUrl: `${input.baseUrl}/.well-known/agent-registration.json`,
    capabilities: {
      streaming: true,
      pushNotifications: false,
      extensions: [
        {
          uri: X402_A2A_EXTENSION_URI,
          description:
            "Payment per task: an unpaid task answers input-required with x402.payment.status payment-required and x402.payment.required; a message carrying x402.payment.payload moves it to payment-submitted, then payment-completed with x402.payment.receipts",
          required: true,
          params: { accepts },
        },
        {
          uri: VERITY_A2A_EXTENSION_URI,
          description: "ERC-8004 identity, contracts and per-skill prices; the card is signed by the registered key",
          required: false,
          params: verity,
        },
      ],
    },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: models.map((m) => ({
      id: m.name,
      name: m.name,
      description: input.skillDescription?.(m) ?? `Verified inference with ${m.name}, paid per request`,
      tags: input.taskPrices?.has(m.name) ? ["agent", "task"] : ["inference", "llm"],
      examples: [],
      inputModes: ["text/plain"],
      outputModes: ["text/plain"],
      securityRequirements: [],
    })),
    signatures: [],
  };
}

/** Signs `card` with EIP-191 by `account` (the agent's registered key), replacing any signatures. */
export async function signAgentCard(args: {
  card: AgentCard;
  account: LocalAccount;
  ref: AgentRef;
}): Promise<AgentCard> {
  const protectedHeader = agentCardProtectedHeader(args.ref);
  const message = agentCardSigningInput({
    protected: protectedHeader,
    canonicalCard: canonicalizeAgentCard(args.card),
  });
  const signature = await args.account.signMessage({ message });
  return {
    ...args.card,
    signatures: [
      {
        protected: protectedHeader,
        signature: Buffer.from(signature.slice(2), "hex").toString("base64url"),
        header: {},
      },
    ],
  };
}

/**
 * A signed card that is signed again only when `keyOf(input)` changes; a failed signature is
 * forgotten, so the next call retries it.
 */
export function createSignedCardSource<I extends AgentRef>(args: {
  input: () => I;
  account: LocalAccount;
  keyOf: (input: I) => string;
  build: (input: I, signer: `0x${string}`) => AgentCard;
}) {
  let cached: { key: string; card: Promise<AgentCard> } | undefined;
  return (): Promise<AgentCard> => {
    const input = args.input();
    const key = args.keyOf(input);
    if (cached?.key !== key) {
      const card = signAgentCard({
        card: args.build(input, args.account.address),
        account: args.account,
        ref: { chainId: input.chainId, agentRegistry: input.agentRegistry, agentId: input.agentId },
      });
      cached = { key, card };
      card.catch(() => {
        cached = undefined;
      });
    }
    return cached.card;
  };
}

/** The signed card, built once per base URL (the card only changes when the offers do). */
export function createAgentCardSource(args: { input: () => AgentCardInput; account: LocalAccount }) {
  return createSignedCardSource({
    ...args,
    keyOf: (input) => JSON.stringify([input.baseUrl, [...input.models].map((m) => [m.name, m.modelId.toString()])]),
    build: buildAgentCard,
  });
}
