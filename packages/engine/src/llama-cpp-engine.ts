/**
 * The llama.cpp engine (node-llama-cpp, prebuilt CPU binary). One model, one context with one
 * sequence; requests on an engine run one at a time, several engines in a process share the runtime.
 */
import { statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename } from "node:path";
import { ConfigError, RequestError } from "@verity/core";
import {
  type ChatHistoryItem,
  type ChatWrapper,
  JinjaTemplateChatWrapper,
  type LlamaModel,
  resolveChatWrapper,
  type Token,
} from "node-llama-cpp";
import { z } from "zod";
import {
  type ChatMessage,
  chatMessageSchema,
  type Engine,
  promptSchema,
  type RescoreRequest,
  samplingSchema,
  seedKeySchema,
} from "./engine.ts";
import { metadataScalar, readGgufHeader } from "./gguf-reader.ts";
import { generateTokens } from "./llama-cpp-generate.ts";
import { rescoreTokens } from "./llama-cpp-rescore.ts";
import { llamaRuntime } from "./llama-runtime.ts";
import { computeModelIdentity } from "./model-identity.ts";
import { createSerial } from "./serial.ts";

const chatMessagesSchema = z.array(chatMessageSchema);
const seededRescoreSchema = z
  .object({
    seedKey: seedKeySchema,
    temperature: z.number().min(0).max(2),
    topP: z.number().gt(0).max(1),
    topK: z.number().int().min(0).optional(),
  })
  .strict();
export type LlamaCppEngineOptions = {
  modelPath: string;
  /** Defaults to the GGUF's `general.name`, else the file name without `.gguf`. */
  name?: string;
  /** Context window in tokens; defaults to the model's training context, at most 4096. */
  contextSize?: number;
  /**
   * CPU threads. Defaults to 1 for models under 64 MiB (thread synchronisation costs more than it
   * saves there), otherwise to the number of cores.
   */
  threads?: number;
  /**
   * Tokens per llama.cpp batch (default 512). Numerics depend on it: llama.cpp picks matmul
   * kernels by batch rows, so batched prefill and single-token decoding round differently (on x86
   * Q8_0, batches of 64+ rows move logits by up to ~0.15 nats; under 64 rows they match decoding
   * bit for bit, at a fraction of the prefill speed). Validators comparing results should use one value.
   * F16 (the test reference) differs too: a seeded replay at batch 512 or 32 against one-token
   * decoding moves logits by up to ~0.01 nats, which the seeded check's tolerance absorbs.
   */
  batchSize?: number;
};

export async function createLlamaCppEngine(options: LlamaCppEngineOptions): Promise<Engine> {
  const header = await readGgufHeader({ path: options.modelPath });
  const identity = await computeModelIdentity({ path: options.modelPath, header });
  const llama = await llamaRuntime();
  const threads =
    options.threads ?? (statSync(options.modelPath).size < 64 * 2 ** 20 ? 1 : Math.max(1, availableParallelism()));
  const model = await llama.loadModel({ modelPath: options.modelPath }).catch((cause: unknown) => {
    throw new ConfigError(`Cannot load model ${options.modelPath}`, {
      code: "invalid_parameter",
      hint: "Check that the file is a GGUF model llama.cpp supports",
      cause,
    });
  });
  const contextSize = options.contextSize ?? Math.min(model.trainContextSize, 4096);
  const context = await model
    .createContext({ contextSize, threads, sequences: 1, batchSize: options.batchSize ?? 512 })
    .catch(async (cause: unknown) => {
      await model.dispose();
      throw new ConfigError(`Cannot create a ${contextSize}-token context for ${options.modelPath}`, {
        code: "invalid_parameter",
        hint: "Lower contextSize or free memory",
        cause,
      });
    });
  const sequence = context.getSequence();
  const serial = createSerial();
  const template = metadataScalar(header, "tokenizer.chat_template");
  const chatWrapper = createChatWrapper(model, typeof template === "string" ? template : undefined);
  const vocabEntry = header.metadata.get("tokenizer.ggml.tokens");
  const vocabSize = vocabEntry?.type === "array" ? vocabEntry.value.length : 0;
  const bos = model.tokens.bos;
  const prependBos = model.tokens.shouldPrependBosToken && bos !== null;
  let closed = false;

  function ensureOpen(): void {
    if (closed) throw new ConfigError("The engine is closed", { code: "internal_error" });
  }

  function renderChat(messages: readonly ChatMessage[], continueFinal = false): number[] {
    ensureOpen();
    const history: ChatHistoryItem[] = messages.map((m) =>
      m.role === "assistant" ? { type: "model", response: [m.content] } : { type: m.role, text: m.content },
    );
    // A final assistant message to continue stays the open model turn; otherwise open a new one.
    if (!(continueFinal && messages.at(-1)?.role === "assistant")) history.push({ type: "model", response: [] });
    return chatWrapper.generateContextState({ chatHistory: history }).contextText.tokenize(model.tokenizer);
  }

  function checkTokens(tokens: readonly number[], what: string): void {
    for (const token of tokens) {
      if (!Number.isInteger(token) || token < 0 || token >= vocabSize) {
        throw new RequestError(`${what} contains ${token}, which is not a token of ${name}`, {
          code: "invalid_request",
          details: { vocabSize },
        });
      }
    }
  }

  function tooLong(tokens: number, limit: number): RequestError {
    return new RequestError(`${tokens} tokens do not fit the context window of ${contextSize}`, {
      code: "prompt_too_long",
      hint: "Shorten the prompt or lower max tokens",
      details: { tokens, limit },
    });
  }

  const name = options.name ?? modelName(metadataScalar(header, "general.name"), options.modelPath);

  return {
    name,
    identity,
    contextSize,
    vocabSize,
    tokenize(text) {
      ensureOpen();
      return model.tokenize(text, false);
    },
    detokenize(tokens) {
      ensureOpen();
      return model.detokenize(tokens as readonly Token[], false);
    },
    renderChat: (messages, options) =>
      renderChat(parseOrThrow(chatMessagesSchema, messages, "messages"), options?.continueFinal === true),
    async generate(request) {
      ensureOpen();
      const prompt = parseOrThrow(promptSchema, request.prompt, "prompt");
      const sampling = parseOrThrow(samplingSchema, request.sampling, "sampling");
      let promptTokens: number[];
      if ("messages" in prompt && request.renderedPrompt !== undefined) {
        ensureOpen();
        checkTokens(request.renderedPrompt, "renderedPrompt");
        promptTokens = [...request.renderedPrompt];
      } else {
        promptTokens =
          "messages" in prompt
            ? renderChat(prompt.messages, prompt.continueFinal === true)
            : [...(prependBos ? [bos] : []), ...model.tokenize(prompt.text)];
      }
      if (promptTokens.length === 0) {
        throw new RequestError("The prompt is empty", { code: "invalid_request", hint: "Send some text" });
      }
      if (promptTokens.length >= contextSize) throw tooLong(promptTokens.length, contextSize - 1);
      return serial(() =>
        generateTokens({
          model,
          sequence,
          promptTokens,
          sampling,
          vocabSize,
          maxTokens: Math.min(sampling.maxTokens, contextSize - promptTokens.length),
          ...(request.signal ? { signal: request.signal } : {}),
          ...(request.onChunk ? { onChunk: request.onChunk } : {}),
        }),
      );
    },
    async rescore(request: RescoreRequest) {
      ensureOpen();
      checkTokens(request.promptTokens, "promptTokens");
      checkTokens(request.outputTokens, "outputTokens");
      if (request.promptTokens.length === 0) {
        throw new RequestError("promptTokens is empty", { code: "invalid_request" });
      }
      const evaluated = request.promptTokens.length + request.outputTokens.length - 1;
      if (evaluated > contextSize) throw tooLong(evaluated, contextSize);
      const topK = request.topK ?? 0;
      if (!Number.isInteger(topK) || topK < 0 || topK > vocabSize) {
        throw new RequestError(`topK must be an integer from 0 to ${vocabSize}`, { code: "invalid_request" });
      }
      if (request.seeded !== undefined) {
        const parsed = seededRescoreSchema.safeParse(request.seeded);
        if (!parsed.success) {
          throw new RequestError("Invalid seeded", {
            code: "invalid_request",
            details: { issues: parsed.error.issues },
          });
        }
      }
      return serial(() => rescoreTokens({ sequence, ...request, topK, vocabSize }));
    },
    async close() {
      if (closed) return;
      closed = true;
      await serial(async () => {
        await context.dispose();
        await model.dispose();
      });
    },
  };
}

/** The GGUF's own chat template when it has one, else node-llama-cpp's best match for the model. */
function createChatWrapper(model: LlamaModel, template: string | undefined): ChatWrapper {
  if (template !== undefined && template.length > 0) {
    return new JinjaTemplateChatWrapper({
      template,
      tokenizer: model.tokenizer,
      joinAdjacentMessagesOfTheSameType: false,
      trimLeadingWhitespaceInResponses: false,
    });
  }
  return resolveChatWrapper(model);
}

function modelName(fromFile: unknown, path: string): string {
  return typeof fromFile === "string" && fromFile.length > 0 ? fromFile : basename(path).replace(/\.gguf$/i, "");
}

function parseOrThrow<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: unknown[] } } },
  value: unknown,
  what: string,
): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new RequestError(`Invalid ${what}`, { code: "invalid_request", details: { issues: result.error.issues } });
  }
  return result.data;
}
