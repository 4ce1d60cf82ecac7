/**
 * Hire a Verity A2A agent: fetch and verify its card (the registered key must have signed it), pick
 * the skill, check the price, then run the a2a-x402 standalone flow over A2A `SendStreamingMessage`
 * with `@a2a-js/sdk`'s client — the unpaid message comes back `input-required` with the task's exact
 * ceiling, the paid one (a Verity voucher in `x402.payment.payload`) streams `working`, the artifact
 * and `completed` with the signed receipt. The receipt must be signed by the card's registered key
 * and charge at most the ceiling; a task that fails charges nothing (the voucher stays unused).
 */
import { randomUUID } from "node:crypto";
import { AgentCard, type Message, Role, TaskState } from "@a2a-js/sdk";
import {
  ClientFactory,
  ClientFactoryOptions,
  JsonRpcTransportFactory,
  ServiceParameters,
  withA2AExtensions,
} from "@a2a-js/sdk/client";
import {
  type AgentSkillPrice,
  encodeVoucherHeader,
  PaymentError,
  RequestError,
  receiptDomain,
  receiptFromJson,
  receiptTypes,
  type SignedReceiptJson,
  signedReceiptSchema,
  voucherDomain,
  voucherTypes,
} from "@verity/core";
import type { SettleResponse } from "@x402/core/types";
import { type LocalAccount, type PublicClient, recoverTypedDataAddress } from "viem";
import { type VerifiedAgentCard, verifyAgentCard } from "./agent-card-verify.ts";
import { type AgentX402Payer, isX402Payer, x402Required, x402Settled } from "./agent-x402-payer.ts";

/** What the agent asked for (its `x402.payment.required.accepts[0]`, a Verity 402 payment section). */
export type AgentPaymentRequired = {
  agentId: bigint;
  modelId: bigint;
  /** The most this task may cost. */
  ceiling: bigint;
  /** Smallest voucher the agent takes (the channel's owed total + the ceiling), when it says. */
  minimumVoucher?: bigint;
  chainId: number;
  paymentChannels: `0x${string}`;
};

/** Signs the voucher header for one task; `settled` learns the channel's new charged total. */
export type AgentPayer = {
  pay(required: AgentPaymentRequired): Promise<string>;
  settled?(args: { charged: bigint; receipt: SignedReceiptJson }): void;
  /** The paid task did not complete: `known` when the agent said so (nothing charged), else unknown. */
  failed?(args: { known: boolean }): void;
};

/** A payer over one open channel (to the agent id, for the skill's model) whose authorizer is `authorizer`. */
export function createChannelPayer(args: {
  channelId: `0x${string}`;
  authorizer: LocalAccount;
  /** Charged total already owed on the channel. */
  charged?: bigint;
}): AgentPayer & { charged(): bigint } {
  let charged = args.charged ?? 0n;
  return {
    charged: () => charged,
    async pay(required) {
      const wanted = charged + required.ceiling;
      const amount =
        required.minimumVoucher !== undefined && required.minimumVoucher > wanted ? required.minimumVoucher : wanted;
      const signature = await args.authorizer.signTypedData({
        domain: voucherDomain({ chainId: required.chainId, verifyingContract: required.paymentChannels }),
        types: voucherTypes,
        primaryType: "Voucher",
        message: { channelId: args.channelId, cumulativeAmount: amount },
      });
      return encodeVoucherHeader({
        channelId: args.channelId,
        cumulativeAmount: amount,
        signature,
        chainId: required.chainId,
        contract: required.paymentChannels,
      });
    },
    settled({ charged: value }) {
      if (value > charged) charged = value;
    },
  };
}

export type AgentTaskUpdate = { state: string; paymentStatus?: string; text?: string };

export type AgentCallResult = {
  agentId: bigint;
  skill: string;
  taskId: string;
  /** The artifact's text. */
  artifact: string;
  charge: bigint;
  /** The voucher channel's new charged total (x402: this task's charge). */
  charged: bigint;
  /** The provider-signed receipt (a task paid with a Verity voucher). */
  receipt?: SignedReceiptJson;
  /** The x402 settlement response (a task paid with x402). */
  settlement?: SettleResponse;
  /** Every state the task went through, with its a2a-x402 payment status. */
  updates: AgentTaskUpdate[];
};

export type CallAgentOptions = {
  /** The agent's card, or the URL of its `/.well-known/agent-card.json` (or its base URL). */
  card?: AgentCard | Record<string, unknown>;
  cardUrl?: string;
  /** The skill to hire (default: the card's only skill). */
  skill?: string;
  message: string;
  /** Largest acceptable price of the task (its ceiling), in payment-token base units. */
  maxPrice?: bigint;
  /** Output tokens asked of an inference skill (ignored by per-task skills). */
  maxTokens?: number;
  publicClient: PublicClient;
  /** The AgentRegistry the caller trusts (its deployment's). */
  agentRegistry: `0x${string}`;
  /**
   * Pays the task; called once the agent stated the ceiling. A Verity voucher payer, or
   * `createX402AgentPayer(x402Client)` to pay with an x402 PaymentPayload (batch-settlement).
   */
  payer:
    | AgentPayer
    | AgentX402Payer
    | ((card: VerifiedAgentCard, skill: string, price: AgentSkillPrice) => Promise<AgentPayer>);
  /** Checked before the voucher is signed (a spend mandate): throw to refuse. */
  beforePay?: (args: { agentId: bigint; skill: string; amount: bigint }) => void | Promise<void>;
  onUpdate?: (update: AgentTaskUpdate) => void;
  fetch?: typeof fetch;
};

const STATE_NAMES: Record<number, string> = {
  [TaskState.TASK_STATE_SUBMITTED]: "submitted",
  [TaskState.TASK_STATE_WORKING]: "working",
  [TaskState.TASK_STATE_COMPLETED]: "completed",
  [TaskState.TASK_STATE_FAILED]: "failed",
  [TaskState.TASK_STATE_CANCELED]: "canceled",
  [TaskState.TASK_STATE_INPUT_REQUIRED]: "input-required",
  [TaskState.TASK_STATE_REJECTED]: "rejected",
};

/** Fetches an agent's card from its card URL or base URL. */
export async function fetchAgentCard(url: string, fetchImpl: typeof fetch = fetch): Promise<AgentCard> {
  const target = url.includes("/.well-known/") ? url : `${url.replace(/\/$/, "")}/.well-known/agent-card.json`;
  const response = await fetchImpl(target);
  if (!response.ok) {
    throw new RequestError(`The agent card at ${target} answered HTTP ${response.status}`, {
      code: "agent_card_invalid",
    });
  }
  return AgentCard.fromJSON(await response.json());
}

function textMessage(args: {
  text: string;
  taskId?: string;
  contextId?: string;
  metadata: Record<string, unknown>;
}): Message {
  return {
    messageId: randomUUID(),
    contextId: args.contextId ?? "",
    taskId: args.taskId ?? "",
    role: Role.ROLE_USER,
    parts: [
      { content: { $case: "text", value: args.text }, metadata: undefined, filename: "", mediaType: "text/plain" },
    ],
    metadata: args.metadata,
    extensions: [],
    referenceTaskIds: [],
  };
}

export async function callAgent(options: CallAgentOptions): Promise<AgentCallResult> {
  const fetchImpl = options.fetch ?? fetch;
  const raw = options.card
    ? AgentCard.fromJSON(options.card)
    : options.cardUrl
      ? await fetchAgentCard(options.cardUrl, fetchImpl)
      : undefined;
  if (!raw) throw new RequestError("Pass card or cardUrl", { code: "invalid_parameter" });
  const verified = await verifyAgentCard({
    card: raw,
    publicClient: options.publicClient,
    agentRegistry: options.agentRegistry,
  });
  const skills = Object.keys(verified.skills);
  const skill = options.skill ?? (skills.length === 1 ? skills[0] : undefined);
  const price = skill === undefined ? undefined : verified.skills[skill];
  if (skill === undefined || !price || !raw.skills.some((s) => s.id === skill)) {
    throw new RequestError(`Agent ${verified.agentId} offers no skill ${JSON.stringify(options.skill ?? "")}`, {
      code: "agent_skill_unknown",
      hint: `Skills: ${skills.join(", ")}`,
      details: { agentId: verified.agentId.toString(), skills },
    });
  }
  if (options.maxPrice !== undefined && price.perTask !== undefined && BigInt(price.perTask) > options.maxPrice) {
    throw new PaymentError(`Skill ${skill} costs ${price.perTask} per task, above the limit of ${options.maxPrice}`, {
      code: "offer_over_max_price",
      details: { agentId: verified.agentId.toString(), skill, price: price.perTask },
    });
  }
  const factory = new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new JsonRpcTransportFactory({ fetchImpl })],
    }),
  );
  const card = raw;
  const client = await factory.createFromAgentCard(card);
  const updates: AgentTaskUpdate[] = [];
  const metadata: Record<string, unknown> = {
    skill,
    ...(options.maxTokens === undefined ? {} : { maxTokens: options.maxTokens }),
  };

  type Outcome = { taskId: string; contextId: string; artifact: string; last: Message | undefined; state: string };
  async function run(message: Message): Promise<Outcome> {
    let outcome: Outcome = {
      taskId: message.taskId,
      contextId: message.contextId,
      artifact: "",
      last: undefined,
      state: "",
    };
    const required = (card.capabilities?.extensions ?? []).filter((e) => e.required).map((e) => e.uri);
    const stream = client.sendMessageStream(
      { tenant: "", message, configuration: undefined, metadata: undefined },
      { serviceParameters: ServiceParameters.create(withA2AExtensions(...required)) },
    );
    for await (const event of stream) {
      const p = event.payload;
      if (!p) continue;
      if (p.$case === "task") outcome = { ...outcome, taskId: p.value.id, contextId: p.value.contextId };
      if (p.$case === "artifactUpdate") {
        for (const part of p.value.artifact?.parts ?? []) {
          if (part.content?.$case === "text") outcome.artifact += part.content.value;
        }
      }
      const status = p.$case === "task" ? p.value.status : p.$case === "statusUpdate" ? p.value.status : undefined;
      if (status) {
        const meta = (status.message?.metadata ?? {}) as Record<string, unknown>;
        const text = status.message?.parts.map((x) => (x.content?.$case === "text" ? x.content.value : "")).join("");
        const update: AgentTaskUpdate = {
          state: STATE_NAMES[status.state] ?? String(status.state),
          ...(typeof meta["x402.payment.status"] === "string" ? { paymentStatus: meta["x402.payment.status"] } : {}),
          ...(text ? { text } : {}),
        };
        updates.push(update);
        options.onUpdate?.(update);
        outcome = { ...outcome, state: update.state, last: status.message };
      }
    }
    return outcome;
  }

  const failure = (outcome: Outcome): never => {
    const meta = (outcome.last?.metadata ?? {}) as Record<string, unknown>;
    const code = typeof meta.code === "string" ? meta.code : "upstream_error";
    const text = outcome.last?.parts.map((x) => (x.content?.$case === "text" ? x.content.value : "")).join("");
    const details = { agentId: verified.agentId.toString(), skill, taskId: outcome.taskId, state: outcome.state };
    const error = { code: code as never, details, ...(typeof meta.hint === "string" ? { hint: meta.hint } : {}) };
    const message = `Agent ${verified.agentId} did not complete the task: ${text || outcome.state}`;
    throw code.startsWith("voucher_") || code.endsWith("_payment_required")
      ? new PaymentError(message, error)
      : new RequestError(message, error);
  };

  const asked = await run(textMessage({ text: options.message, metadata }));
  if (asked.state !== "input-required") failure(asked);
  if (isX402Payer(options.payer)) {
    const x402Payer = options.payer;
    const agentId = verified.agentId;
    const { paymentRequired, amount } = x402Required({
      required: ((asked.last?.metadata ?? {}) as Record<string, unknown>)["x402.payment.required"],
      agentId,
    });
    if (options.maxPrice !== undefined && amount > options.maxPrice) {
      throw new PaymentError(`The task may cost ${amount}, above the limit of ${options.maxPrice}`, {
        code: "offer_over_max_price",
        details: { agentId: agentId.toString(), skill, ceiling: amount.toString() },
      });
    }
    await options.beforePay?.({ agentId, skill, amount });
    const payload = await x402Payer.client.createPaymentPayload(paymentRequired);
    const paid = await run(
      textMessage({
        text: options.message,
        taskId: asked.taskId,
        contextId: asked.contextId,
        metadata: { ...metadata, "x402.payment.payload": payload },
      }),
    );
    if (paid.state !== "completed") failure(paid);
    const { settlement, charge } = await x402Settled({
      payer: x402Payer,
      payload,
      receipts: ((paid.last?.metadata ?? {}) as Record<string, unknown>)["x402.payment.receipts"],
      agentId,
      amount,
    });
    return {
      agentId,
      skill,
      taskId: paid.taskId,
      artifact: paid.artifact,
      charge,
      charged: charge,
      settlement,
      updates,
    };
  }
  const required = ((asked.last?.metadata ?? {}) as { "x402.payment.required"?: { accepts?: unknown[] } })[
    "x402.payment.required"
  ]?.accepts?.[0] as { ceiling?: string; modelId?: string } | undefined;
  if (!required?.ceiling) failure(asked);
  const ceiling = BigInt(required?.ceiling ?? "0");
  if (options.maxPrice !== undefined && ceiling > options.maxPrice) {
    throw new PaymentError(`The task may cost ${ceiling}, above the limit of ${options.maxPrice}`, {
      code: "offer_over_max_price",
      details: { agentId: verified.agentId.toString(), skill, ceiling: ceiling.toString() },
    });
  }
  await options.beforePay?.({ agentId: verified.agentId, skill, amount: ceiling });
  const payer: AgentPayer =
    typeof options.payer === "function" ? await options.payer(verified, skill, price) : options.payer;
  const voucher = await payer.pay({
    agentId: verified.agentId,
    modelId: BigInt(price.modelId),
    ceiling,
    chainId: verified.chainId,
    paymentChannels: verified.paymentChannels,
  });
  let paid: Outcome;
  try {
    paid = await run(
      textMessage({
        text: options.message,
        taskId: asked.taskId,
        contextId: asked.contextId,
        metadata: { ...metadata, "x402.payment.payload": { scheme: "verity-channel", voucher } },
      }),
    );
  } catch (error) {
    payer.failed?.({ known: false });
    throw error;
  }
  if (paid.state !== "completed") {
    payer.failed?.({ known: paid.state === "failed" || paid.state === "input-required" });
    failure(paid);
  }
  const receipts = ((paid.last?.metadata ?? {}) as { "x402.payment.receipts"?: unknown[] })["x402.payment.receipts"];
  const entry = (receipts?.[0] ?? {}) as { charged?: string; charge?: string };
  const parsed = signedReceiptSchema.safeParse(entry);
  if (!parsed.success) {
    payer.failed?.({ known: false });
    throw new PaymentError(`Agent ${verified.agentId} completed the task without a valid receipt`, {
      code: "receipt_invalid",
      details: { agentId: verified.agentId.toString(), taskId: paid.taskId },
    });
  }
  const receipt = receiptFromJson(parsed.data.receipt);
  const signer = await recoverTypedDataAddress({
    domain: receiptDomain({ chainId: verified.chainId, verifyingContract: verified.paymentChannels }),
    types: receiptTypes,
    primaryType: "Receipt",
    message: receipt,
    signature: parsed.data.signature as `0x${string}`,
  });
  if (signer.toLowerCase() !== verified.signer.toLowerCase() || receipt.charge > ceiling) {
    payer.failed?.({ known: false });
    throw new PaymentError(`Agent ${verified.agentId}'s receipt is not signed by its registered key or overcharges`, {
      code: "receipt_invalid",
      details: { agentId: verified.agentId.toString(), signer, charge: receipt.charge.toString() },
    });
  }
  payer.settled?.({ charged: receipt.cumulativeCharged, receipt: parsed.data });
  return {
    agentId: verified.agentId,
    skill,
    taskId: paid.taskId,
    artifact: paid.artifact,
    charge: receipt.charge,
    charged: receipt.cumulativeCharged,
    receipt: parsed.data,
    updates,
  };
}
