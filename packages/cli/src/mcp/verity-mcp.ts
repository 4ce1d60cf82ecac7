/**
 * Verity as MCP tools: any MCP client (an IDE, an agent framework) can list verified-inference
 * offers, get a quote, buy a chat completion and read its balance, paying from the user's own key
 * through the SDK — under the user's spend mandate, never beyond it (the SDK refuses before it
 * signs a voucher). Built with `@modelcontextprotocol/sdk`: one `McpServer` per connection, served
 * over stdio or streamable HTTP by `verity mcp`.
 *
 * Tool results carry `structuredContent` (JSON) and the same as text; a refusal is an `isError`
 * result whose text starts with the reason code, so a model can read what to change.
 */

import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { BaseError, type SpendMandate } from "@verity/core";
import {
  type ChatMessage,
  effectiveMaxTokens,
  estimateChatPromptTokens,
  filterOffers,
  requestCeiling,
  type VerityClient,
} from "@verity/sdk";
import { z } from "zod";

export type VerityMcpOptions = {
  client: VerityClient;
  /** Reads the payer's token balance (base units). */
  balanceOf: () => Promise<bigint>;
  token: { symbol: string; decimals: number };
  /** The spend mandate the client pays under (shown by `balance`). */
  mandate: SpendMandate;
  version?: string;
};

const uintText = z.string().regex(/^\d{1,30}$/);
const message = z.object({
  role: z.enum(["system", "user", "assistant"]),
  content: z.string().max(200_000),
});

function ok(value: Record<string, unknown>): CallToolResult {
  return { content: [{ type: "text", text: JSON.stringify(value) }], structuredContent: value };
}

function refused(error: unknown): CallToolResult {
  if (error instanceof BaseError) {
    const body = { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) };
    return {
      isError: true,
      content: [{ type: "text", text: `${error.code}: ${error.message}` }],
      structuredContent: body,
    };
  }
  const text = error instanceof Error ? error.message : String(error);
  return { isError: true, content: [{ type: "text", text: `internal_error: ${text}` }] };
}

async function guarded(run: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await run();
  } catch (error) {
    return refused(error);
  }
}

/** A fresh MCP server exposing Verity's tools over `options.client`. */
export function createVerityMcpServer(options: VerityMcpOptions): McpServer {
  const { client } = options;
  const server = new McpServer({ name: "verity", version: options.version ?? "0.1.0" });

  server.registerTool(
    "list_models",
    {
      title: "List models",
      description:
        "Live offers of verified inference: model, provider agent id, prices per million tokens (token base units), announced quantization, health. Cheapest first.",
      inputSchema: { model: z.string().min(1).max(200).optional() },
    },
    async ({ model }) =>
      guarded(async () => {
        const offers = await client.offers(model ? { model } : {});
        return ok({
          token: options.token,
          offers: offers.map((o) => ({
            model: o.model,
            agentId: o.agentId.toString(),
            inputPricePerMTok: o.inputPricePerMTok.toString(),
            outputPricePerMTok: o.outputPricePerMTok.toString(),
            maxOutputTokens: o.maxOutputTokens,
            ...(o.quantization ? { quantization: o.quantization } : {}),
            healthy: o.healthy,
          })),
        });
      }),
  );

  server.registerTool(
    "quote",
    {
      title: "Quote a chat request",
      description:
        "What a chat request would cost at most (its ceiling: prompt tokens × input price + max_tokens × output price) at each healthy offer for the model, cheapest first. Nothing is paid.",
      inputSchema: {
        model: z.string().min(1).max(200),
        messages: z.array(message).min(1).max(256),
        max_tokens: z.number().int().min(1).max(1_000_000).optional(),
      },
    },
    async ({ model, messages, max_tokens }) =>
      guarded(async () => {
        const promptTokens = estimateChatPromptTokens(messages as ChatMessage[]);
        const offers = filterOffers(await client.offers({ model })).filter((o) => o.healthy);
        const quotes = offers
          .map((o) => {
            const maxTokens = effectiveMaxTokens({
              kind: "chat",
              maxTokens: max_tokens,
              offerMaxOutputTokens: o.maxOutputTokens,
            });
            const ceiling = requestCeiling({
              price: { inputPerMTok: o.inputPricePerMTok, outputPerMTok: o.outputPricePerMTok },
              promptTokens,
              maxTokens,
            });
            return { agentId: o.agentId.toString(), maxTokens, ceiling };
          })
          .sort((a, b) => (a.ceiling < b.ceiling ? -1 : a.ceiling > b.ceiling ? 1 : 0));
        return ok({
          model,
          promptTokens,
          token: options.token,
          quotes: quotes.map((q) => ({ ...q, ceiling: q.ceiling.toString() })),
        });
      }),
  );

  server.registerTool(
    "chat",
    {
      title: "Buy a chat completion",
      description:
        "Buys one chat completion from the cheapest healthy provider within max_price, paid by voucher from the user's channel under the spend mandate. Returns the answer, the provider, the charge and the signed receipt's id. The answer is checked (receipt, token hashes) before it is returned.",
      inputSchema: {
        model: z.string().min(1).max(200),
        messages: z.array(message).min(1).max(256),
        max_tokens: z.number().int().min(1).max(1_000_000).optional(),
        temperature: z.number().min(0).max(2).optional(),
        max_price_in: uintText.optional().describe("highest input price per million tokens, token base units"),
        max_price_out: uintText.optional().describe("highest output price per million tokens, token base units"),
        agent_id: uintText.optional().describe("buy from this provider agent only"),
      },
    },
    async (args) =>
      guarded(async () => {
        const maxPrice = {
          ...(args.max_price_in ? { inputPerMTok: BigInt(args.max_price_in) } : {}),
          ...(args.max_price_out ? { outputPerMTok: BigInt(args.max_price_out) } : {}),
        };
        const completion = await client.chat.completions.create(
          {
            model: args.model,
            messages: args.messages as ChatMessage[],
            ...(args.max_tokens === undefined ? {} : { max_tokens: args.max_tokens }),
            ...(args.temperature === undefined ? {} : { temperature: args.temperature }),
          },
          {
            ...(Object.keys(maxPrice).length > 0 ? { maxPrice } : {}),
            ...(args.agent_id ? { agentId: BigInt(args.agent_id) } : {}),
          },
        );
        return ok({
          model: completion.model,
          content: completion.choices[0]?.message.content ?? "",
          finishReason: completion.choices[0]?.finish_reason ?? null,
          usage: completion.usage,
          payment: {
            agentId: completion.verity.agentId,
            channelId: completion.verity.channelId,
            charge: completion.verity.charge,
            requestId: completion.verity.requestId,
            token: options.token,
          },
        });
      }),
  );

  server.registerTool(
    "find_agents",
    {
      title: "Find A2A agents",
      description:
        "A2A agents (Verity providers and `verity agent serve` agents) whose signed Agent Card verifies against the on-chain registry: agent id, skill, price of one task at most (token base units), reputation from paying clients. Cheapest first.",
      inputSchema: {
        skill: z.string().min(1).max(200).optional(),
        max_price: uintText.optional().describe("highest price of one task, token base units"),
        min_reputation: z
          .number()
          .optional()
          .describe("lowest average feedback value (agents without feedback are left out)"),
      },
    },
    async (args) =>
      guarded(async () => {
        const agents = await client.findAgents({
          ...(args.skill ? { skill: args.skill } : {}),
          ...(args.max_price ? { maxPrice: BigInt(args.max_price) } : {}),
          ...(args.min_reputation === undefined ? {} : { minReputation: args.min_reputation }),
        });
        return ok({
          token: options.token,
          agents: agents.map((a) => ({
            agentId: a.agentId.toString(),
            name: a.name,
            skill: a.skill,
            description: a.skillDescription,
            unit: a.unit,
            maxTaskPrice: a.maxTaskPrice.toString(),
            reputation: a.reputation,
            cardUrl: a.cardUrl,
          })),
        });
      }),
  );

  server.registerTool(
    "call_agent",
    {
      title: "Hire an A2A agent",
      description:
        "Sends one task to an A2A agent (by card_url, or the cheapest agent for skill within max_price and min_reputation), verifies its card, pays it by voucher under the spend mandate (the agent id is the counterparty) and returns its artifact, the charge and the receipt's request id. A task the agent fails is not charged.",
      inputSchema: {
        message: z.string().min(1).max(200_000),
        card_url: z.string().url().max(2_000).optional(),
        skill: z.string().min(1).max(200).optional(),
        max_price: uintText.optional().describe("highest price of the task, token base units"),
        min_reputation: z.number().optional(),
        max_tokens: z.number().int().min(1).max(1_000_000).optional(),
      },
    },
    async (args) =>
      guarded(async () => {
        const result = await client.callAgent({
          message: args.message,
          ...(args.card_url ? { cardUrl: args.card_url } : {}),
          ...(args.skill ? { skill: args.skill } : {}),
          ...(args.max_price ? { maxPrice: BigInt(args.max_price) } : {}),
          ...(args.min_reputation === undefined ? {} : { minReputation: args.min_reputation }),
          ...(args.max_tokens === undefined ? {} : { maxTokens: args.max_tokens }),
        });
        return ok({
          agentId: result.agentId.toString(),
          skill: result.skill,
          taskId: result.taskId,
          artifact: result.artifact,
          updates: result.updates,
          payment: {
            charge: result.charge.toString(),
            charged: result.charged.toString(),
            requestId: result.receipt?.receipt.requestId,
            token: options.token,
          },
        });
      }),
  );

  server.registerTool(
    "balance",
    {
      title: "Balance and budget",
      description:
        "The user's wallet balance, channels (deposit, charged, headroom) and what the spend mandate still allows (per hour, per day, in total).",
      inputSchema: {},
    },
    async () =>
      guarded(async () => {
        const [wallet, channels, mandate] = await Promise.all([
          options.balanceOf(),
          client.channels(),
          client.mandate(),
        ]);
        const m = options.mandate;
        const left = (limit: bigint, spent: bigint) =>
          limit === 0n ? null : (limit > spent ? limit - spent : 0n).toString();
        return ok({
          token: options.token,
          wallet: wallet.toString(),
          channels: channels.map((c) => ({
            channelId: c.channelId,
            agentId: c.agentId.toString(),
            state: c.state,
            deposit: c.deposit.toString(),
            charged: c.charged.toString(),
            headroom: c.headroom.toString(),
          })),
          mandate: mandate && {
            hash: mandate.hash,
            validBefore: m.validBefore.toString(),
            perCall: m.perCall === 0n ? null : m.perCall.toString(),
            spent: {
              hour: mandate.spent.hour.toString(),
              day: mandate.spent.day.toString(),
              total: mandate.spent.total.toString(),
            },
            left: {
              hour: left(m.perHour, mandate.spent.hour),
              day: left(m.perDay, mandate.spent.day),
              total: left(m.total, mandate.spent.total),
            },
          },
        });
      }),
  );

  return server;
}
