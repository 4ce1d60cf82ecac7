/**
 * The A2A agent executor of a Verity provider: a task is one paid request to one of its skills
 * (a served model, or a `verity agent serve` handler), run through the provider's own paid route —
 * the same voucher checks, receipt, persistence and claims as any inference request. Payment states
 * follow the a2a-x402 extension in the status message's metadata:
 * - no payment with the message → `input-required`, `x402.payment.status: payment-required` and
 *   `x402.payment.required` (how to pay, with this task's exact ceiling); nothing runs;
 * - `x402.payment.payload` (`{ scheme: "verity-channel", voucher }`) → `payment-submitted`, `working`;
 * - answered → the artifact, then `completed` with `payment-completed` and `x402.payment.receipts`
 *   (the signed receipt and the channel's new charged total);
 * - refused or failed → `failed` with `payment-failed` and the reason code; a failure charges nothing
 *   (the provider persists a charge only with an answer) and leaves the voucher unused.
 */
import { randomUUID } from "node:crypto";
import { type Message, type Part, Role, TaskState } from "@a2a-js/sdk";
import { AgentEvent, type AgentExecutor, type ExecutionEventBus, type RequestContext } from "@a2a-js/sdk/server";
import { HEADERS } from "@verity/core";
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
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (voucher) headers[HEADERS.voucher] = voucher;
      else {
        // Ask the paid route what this exact request costs; it answers 402 and runs nothing.
        const quote = await deps.internal("/v1/chat/completions", { method: "POST", headers, body });
        const answer = (await quote.json().catch(() => ({}))) as ErrorBody;
        status(
          TaskState.TASK_STATE_INPUT_REQUIRED,
          agentMessage({
            taskId,
            contextId,
            text: `Payment required for ${model.name}: send x402.payment.payload with a Verity voucher`,
            metadata: {
              [X402_KEYS.status]: "payment-required",
              [X402_KEYS.required]: { x402Version: 2, accepts: [answer.payment ?? {}] },
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
          ...(answer.payment ? { [X402_KEYS.required]: { x402Version: 2, accepts: [answer.payment] } } : {}),
        });
        return;
      }
      const output = answer.choices?.[0]?.message?.content ?? "";
      const { transcript: _transcript, ...receipt } = answer.verity ?? {};
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
          metadata: { [X402_KEYS.status]: "payment-completed", [X402_KEYS.receipts]: [receipt] },
        }),
        true,
      );
      bus.finished();
    },
    async cancelTask(): Promise<void> {},
  };
}
