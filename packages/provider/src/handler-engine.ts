/**
 * An engine whose "model" is a task handler (`verity agent serve`): a script run per task with the
 * message on stdin, an HTTP endpoint, or a function (e.g. a chain of model calls bought through
 * Verity). It lets a handler sit behind the provider's whole paid path — vouchers, receipts,
 * claims, feedback authorisation — priced per task: the receipt's prompt and output hashes commit to
 * the task's message and the artifact (as UTF-8 bytes), and its usage counts one output unit per
 * task, so a skill priced `P` per task is an offer of `P × 10⁶` per million output units with at
 * most one unit per request. A handler that returns nothing (or fails) is `agent_no_output`: the
 * paid route charges nothing and the voucher stays unused.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { RequestError } from "@verity/core";
import type { ChatMessage, Engine, GenerateRequest, GenerateResult } from "@verity/engine";

export type TaskHandler =
  | { kind: "script"; command: string; timeoutMs?: number }
  | { kind: "url"; url: string; timeoutMs?: number; fetch?: typeof fetch }
  | { kind: "function"; run: (message: string, signal?: AbortSignal) => Promise<string> };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function sha256(text: string): `0x${string}` {
  return `0x${createHash("sha256").update(text).digest("hex")}`;
}

function runScript(command: string, input: string, timeoutMs: number, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", command], { stdio: ["pipe", "pipe", "pipe"], ...(signal ? { signal } : {}) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(out).toString("utf8"));
      else
        reject(
          new RequestError(
            `The task handler exited with ${code}: ${Buffer.concat(err).toString("utf8").slice(0, 300)}`,
            {
              code: "agent_no_output",
            },
          ),
        );
    });
    child.stdin.on("error", () => {});
    child.stdin.end(input);
  });
}

async function runUrl(handler: Extract<TaskHandler, { kind: "url" }>, input: string, signal?: AbortSignal) {
  const timeout = AbortSignal.timeout(handler.timeoutMs ?? 120_000);
  const response = await (handler.fetch ?? fetch)(handler.url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message: input }),
    signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
  });
  const text = await response.text();
  if (!response.ok) {
    throw new RequestError(`The task handler answered HTTP ${response.status}`, { code: "agent_no_output" });
  }
  if ((response.headers.get("content-type") ?? "").includes("application/json")) {
    const body = JSON.parse(text) as { output?: unknown };
    return typeof body.output === "string" ? body.output : "";
  }
  return text;
}

/** The task text of a prompt: its last user message (or the raw text). */
function taskText(prompt: GenerateRequest["prompt"]): string {
  if ("text" in prompt) return prompt.text;
  const users = prompt.messages.filter((m) => m.role === "user");
  return (users.at(-1) ?? prompt.messages.at(-1))?.content ?? "";
}

export function createHandlerEngine(args: { name: string; handler: TaskHandler }): Engine {
  const { handler } = args;
  const describe = handler.kind === "script" ? handler.command : handler.kind === "url" ? handler.url : "function";
  return {
    name: args.name,
    identity: {
      // A handler has no weights: its identity names the agent skill and what runs it.
      weightsHash: sha256(`verity-agent-skill:${args.name}:${handler.kind}:${describe}`),
      tokenizerHash: sha256("verity-agent-task:utf8-bytes"),
    },
    contextSize: 1 << 22,
    vocabSize: 256,
    tokenize: (text) => [...encoder.encode(text)],
    detokenize: (tokens) => decoder.decode(Uint8Array.from(tokens)),
    renderChat: (messages: readonly ChatMessage[]) => [...encoder.encode(taskText({ messages: [...messages] }))],
    async generate(request: GenerateRequest): Promise<GenerateResult> {
      const input = taskText(request.prompt);
      const output =
        handler.kind === "script"
          ? await runScript(handler.command, input, handler.timeoutMs ?? 120_000, request.signal)
          : handler.kind === "url"
            ? await runUrl(handler, input, request.signal)
            : await handler.run(input, request.signal);
      const text = output.replace(/\n$/, "");
      if (text.trim().length === 0) {
        throw new RequestError("The task handler returned nothing; nothing was charged", { code: "agent_no_output" });
      }
      const outputTokens = [...encoder.encode(text)];
      await request.onChunk?.({ text, tokens: outputTokens });
      return {
        promptTokens: [...encoder.encode(input)],
        outputTokens,
        text,
        finishReason: "stop",
        usage: { promptTokens: 0, completionTokens: 1 },
      };
    },
    async rescore() {
      throw new RequestError("A task handler cannot be re-scored", { code: "upstream_unsupported" });
    },
    async close() {},
  };
}
