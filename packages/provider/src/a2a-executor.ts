/**
 * The A2A agent executor of a Verity provider: a task is one paid request to one of its skills
 * (a served model, or a `verity agent serve` handler), run through the provider's own paid route —
 * the same voucher checks, receipt, persistence and claims as any inference request. Payment states
 * follow the a2a-x402 extension in the status message's metadata:
 * - no payment with the message → `input-required`, `x402.payment.status: payment-required` and
 *   `x402.payment.required` (how to pay, with this task's exact ceiling); nothing runs;
 * - `x402.payment.payload` (`{ scheme: "verity-channel", voucher }`, or an x402 v2 PaymentPayload
 *   for a scheme the paid route takes — batch-settlement) → `payment-submitted`, `working`; an x402
 *   payload goes to the paid route as its `PAYMENT-SIGNATURE` header, so it is verified and settled
 *   by the provider's x402 door exactly as an HTTP request's would be;
 * - answered → the artifact, then `completed` with `payment-completed` and `x402.payment.receipts`
 *   (the signed receipt and the channel's new charged total; for x402, the settlement response);
 * - refused or failed → `failed` with `payment-failed` and the reason code; a failure charges nothing
 *   (the provider persists a charge only with an answer) and leaves the voucher unused.
 */
import { randomUUID } from "node:crypto";
import { type Message, type Part, Role, TaskState } from "@a2a-js/sdk";
import { AgentEvent, type AgentExecutor, type ExecutionEventBus, type RequestContext } from "@a2a-js/sdk/server";
import { HEADERS } from "@verity/core";
import {
  decodePaymentRequiredHeader,
  decodePaymentResponseHeader,
  encodePaymentSignatureHeader,
} from "@x402/core/http";
import type { PaymentPayload } from "@x402/core/types";
import { z } from "zod";
import type { ServedModel } from "./served-model.ts";

export const X402_KEYS = {
  status: "x402.payment.status",
  required: "x402.payment.required",
  payload: "x402.payment.payload",
  receipts: "x402.payment.receipts",
  error: "x402.payment.error",
} as const;

export type A2aExecutorDeps = {
  models: Map<string, ServedModel>;
  /** Runs a request against the provider's own HTTP API (its paid completions route). */
  internal: (path: string, init: RequestInit) => Promise<Response>;
  /** Skills priced per task: name → flat price (their requests ask for one task unit). */
  taskPrices?: ReadonlyMap<string, bigint>;
};

function textOf(message: Message | undefined): string {
  return (message?.parts ?? [])
    .map((p: Part) => (p.content?.$case === "text" ? p.content.value : ""))
    .filter((t) => t.length > 0)
    .join("\n");
}

function agentMessage(args: {
  taskId: string;
  contextId: string;
  text: string;
  metadata?: Record<string, unknown>;
}): Message {
  return {
    messageId: randomUUID(),
    contextId: args.contextId,
    taskId: args.taskId,
    role: Role.ROLE_AGENT,
    parts: [
      { content: { $case: "text", value: args.text }, metadata: undefined, filename: "", mediaType: "text/plain" },
    ],
    metadata: args.metadata,
    extensions: [],
    referenceTaskIds: [],
  } as Message;
}

/** An x402 v2 PaymentPayload (a2a-x402's `x402.payment.payload`); the x402 door checks the rest. */
const x402PayloadSchema = z
  .object({
    x402Version: z.literal(2),
    accepted: z.object({ scheme: z.string().min(1), network: z.string().min(1) }).passthrough(),
    payload: z.record(z.string(), z.unknown()),
  })
  .passthrough();

/**
 * How to pay, as a2a-x402's `x402.payment.required` (an x402 PaymentRequired): the Verity voucher
 * section of the paid route's 402 body first, then every x402 requirement of its `PAYMENT-REQUIRED`.
 */
function paymentRequired(response: Response, answer: ErrorBody): Record<string, unknown> {
  const header = response.headers.get("PAYMENT-REQUIRED");
  let x402: ReturnType<typeof decodePaymentRequiredHeader> | undefined;
  try {
    x402 = header ? decodePaymentRequiredHeader(header) : undefined;
  } catch {
    x402 = undefined;
  }
  return {
    x402Version: 2,
    accepts: [...(answer.payment ? [answer.payment] : []), ...(x402?.accepts ?? [])],
    ...(x402?.resource ? { resource: x402.resource } : {}),
    ...(x402?.error ? { error: x402.error } : {}),
  };
}

type ErrorBody = { error?: { code?: string; message?: string; hint?: string; details?: unknown }; payment?: unknown };

export function createA2aExecutor(deps: A2aExecutorDeps): AgentExecutor {
  return {
    async execute(ctx: RequestContext, bus: ExecutionEventBus): Promise<void> {
      const { taskId, contextId } = ctx;
      const message = ctx.userMessage;
      const metadata = (message.metadata ?? {}) as Record<string, unknown>;
      const first = ctx.task?.history?.find((m) => m.role === Role.ROLE_USER && textOf(m).length > 0);
      const firstMeta = (first?.metadata ?? {}) as Record<string, unknown>;
      const text = textOf(message) || textOf(first);
      const skillName =
        typeof metadata.skill === "string"
          ? metadata.skill
          : typeof firstMeta.skill === "string"
            ? firstMeta.skill
            : deps.models.size === 1
              ? [...deps.models.keys()][0]
              : undefined;
      const history = [...(ctx.task?.history ?? []), message];
      const status = (state: TaskState, msg: Message | undefined, final = false) => {
        bus.publish(
          AgentEvent.statusUpdate({
            taskId,
            contextId,
            status: { state, message: msg, timestamp: new Date().toISOString() },
            metadata: final ? { final: true } : undefined,
          }),
        );
      };
      bus.publish(
        AgentEvent.task({
          id: taskId,
          contextId,
          status: { state: TaskState.TASK_STATE_SUBMITTED, message: undefined, timestamp: new Date().toISOString() },
          artifacts: [],
          history,
          metadata: undefined,
        }),
      );
      const fail = (code: string, why: string, extra: Record<string, unknown> = {}) => {
        status(
          TaskState.TASK_STATE_FAILED,
          agentMessage({
            taskId,
            contextId,
            text: why,
            metadata: { [X402_KEYS.status]: "payment-failed", [X402_KEYS.error]: code, code, ...extra },
          }),
          true,
        );
        bus.finished();
      };
      const model = skillName === undefined ? undefined : deps.models.get(skillName);
      if (!model) {
        fail(
          "agent_skill_unknown",
          `This agent offers no skill ${JSON.stringify(skillName ?? "")}; skills: ${[...deps.models.keys()].join(", ")}`,
        );
        return;
      }
      if (text.length === 0) {
        fail("invalid_request", "The task has no text part");
        return;
      }
      const perTask = deps.taskPrices?.has(model.name) === true;
      const requested = Number(metadata.maxTokens ?? firstMeta.maxTokens);
      const maxTokens = perTask
        ? 1
        : Number.isInteger(requested) && requested > 0
          ? Math.min(requested, model.maxOutputTokens)
          : Math.min(256, model.maxOutputTokens);
      const body = JSON.stringify({
        model: model.name,
        messages: [{ role: "user", content: text }],
        max_tokens: maxTokens,
      });
      const payload = metadata[X402_KEYS.payload] as { scheme?: unknown; voucher?: unknown } | undefined;
      const voucher = typeof payload?.voucher === "string" ? payload.voucher : undefined;
      const x402 = voucher === undefined ? x402PayloadSchema.safeParse(payload) : undefined;
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (voucher) headers[HEADERS.voucher] = voucher;
      else if (x402?.success) headers["PAYMENT-SIGNATURE"] = encodePaymentSignatureHeader(x402.data as PaymentPayload);
      else if (payload !== undefined && payload !== null) {
        fail(
          "x402_payment_invalid",
          "x402.payment.payload is neither a Verity voucher ({ scheme: verity-channel, voucher }) nor an x402 v2 PaymentPayload",
        );
        return;
      } else {
        // Ask the paid route what this exact request costs; it answers 402 and runs nothing.
        const quote = await deps.internal("/v1/chat/completions", { method: "POST", headers, body });
        const answer = (await quote.json().catch(() => ({}))) as ErrorBody;
        status(
          TaskState.TASK_STATE_INPUT_REQUIRED,
          agentMessage({
            taskId,
            contextId,
            text: `Payment required for ${model.name}: send x402.payment.payload with a Verity voucher or an x402 payment`,
            metadata: {
              [X402_KEYS.status]: "payment-required",
              [X402_KEYS.required]: paymentRequired(quote, answer),
              code: "agent_payment_required",
            },
          }),
          true,
        );
        bus.finished();
        return;
      }
      status(
        TaskState.TASK_STATE_WORKING,
        agentMessage({
          taskId,
          contextId,
          text: "Payment submitted",
          metadata: { [X402_KEYS.status]: "payment-submitted" },
        }),
      );
      const response = await deps.internal("/v1/chat/completions", { method: "POST", headers, body });
      const answer = (await response.json().catch(() => ({}))) as ErrorBody & {
        choices?: { message?: { content?: string } }[];
        verity?: Record<string, unknown>;
      };
      if (!response.ok) {
        const code = answer.error?.code ?? "upstream_error";
        fail(code, answer.error?.message ?? `HTTP ${response.status}`, {
          ...(answer.error?.hint ? { hint: answer.error.hint } : {}),
          ...(answer.error?.details ? { details: answer.error.details } : {}),
          ...(response.status === 402 ? { [X402_KEYS.required]: paymentRequired(response, answer) } : {}),
        });
        return;
      }
      const output = answer.choices?.[0]?.message?.content ?? "";
      const { transcript: _transcript, ...receipt } = answer.verity ?? {};
      // x402: the receipt is the door's settlement response (what `PAYMENT-RESPONSE` carries over HTTP).
      const settlement = response.headers.get("PAYMENT-RESPONSE");
      const receipts = settlement ? [{ ...decodePaymentResponseHeader(settlement), ...receipt }] : [receipt];
      bus.publish(
        AgentEvent.artifactUpdate({
          taskId,
          contextId,
          artifact: {
            artifactId: randomUUID(),
            name: "answer",
            description: `${model.name} answer`,
            parts: [
              { content: { $case: "text", value: output }, metadata: undefined, filename: "", mediaType: "text/plain" },
            ],
            metadata: undefined,
            extensions: [],
          } as never,
          append: false,
          lastChunk: true,
          metadata: undefined,
        }),
      );
      status(
        TaskState.TASK_STATE_COMPLETED,
        agentMessage({
          taskId,
          contextId,
          text: "Paid and answered",
          metadata: { [X402_KEYS.status]: "payment-completed", [X402_KEYS.receipts]: receipts },
        }),
        true,
      );
      bus.finished();
    },
    async cancelTask(): Promise<void> {},
  };
}
