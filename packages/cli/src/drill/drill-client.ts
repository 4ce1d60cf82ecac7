/**
 * The drill's client: a chat completion through a gateway with an API key, read as raw SSE so the
 * drill sees exactly how an answer ended — complete (`[DONE]` after the gateway's charge), a clear
 * error event (`{"error":{"code":…}}`), or a connection that died (which a client also cannot
 * mistake for a complete answer, since `[DONE]` never came).
 */
import type { DrillGateway } from "./drill-cluster.ts";

export type ChatOutcome = {
  complete: boolean;
  /** The reason code when it did not complete (`connection_lost` when the connection died). */
  error?: string;
  text: string;
  /** What the gateway said it charged, on a complete answer. */
  charged?: bigint;
  /** The provider agent that answered, on a complete answer. */
  agentId?: string;
};

/** A chat completion through `gateway`; what a complete answer was charged goes into the client's books. */
export async function chatThrough(args: {
  gateway: DrillGateway;
  prompt: string;
  maxTokens: number;
  stream?: boolean;
  onFirstToken?: () => void | Promise<void>;
}): Promise<ChatOutcome> {
  const outcome = await send(args);
  if (outcome.complete && outcome.charged !== undefined) args.gateway.books.spent += outcome.charged;
  return outcome;
}

async function send(args: {
  gateway: DrillGateway;
  prompt: string;
  maxTokens: number;
  stream?: boolean;
  /** Called once, on the first piece of text. */
  onFirstToken?: () => void | Promise<void>;
}): Promise<ChatOutcome> {
  let response: Response;
  try {
    response = await fetch(`${args.gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${args.gateway.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: "verity-tiny",
        messages: [{ role: "user", content: args.prompt }],
        max_tokens: args.maxTokens,
        stream: args.stream !== false,
      }),
    });
  } catch {
    return { complete: false, error: "connection_lost", text: "" };
  }
  if (args.stream === false || !response.ok) {
    const body = (await response.json().catch(() => ({}))) as {
      error?: { code?: string };
      choices?: { message?: { content?: string } }[];
      verity?: { gateway?: { charged: string; agentId: string } };
    };
    if (!response.ok || body.error) {
      return { complete: false, error: body.error?.code ?? `http_${response.status}`, text: "" };
    }
    return {
      complete: true,
      text: body.choices?.[0]?.message?.content ?? "",
      ...(body.verity?.gateway
        ? { charged: BigInt(body.verity.gateway.charged), agentId: body.verity.gateway.agentId }
        : {}),
    };
  }
  const outcome: ChatOutcome = { complete: false, text: "" };
  let firstToken = false;
  let buffer = "";
  const decoder = new TextDecoder();
  try {
    for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(bytes, { stream: true });
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf("\n\n");
        const data = event
          .split("\n")
          .filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5).trim())
          .join("\n");
        if (data === "") continue;
        if (data === "[DONE]") {
          outcome.complete = outcome.charged !== undefined;
          continue;
        }
        const parsed = JSON.parse(data) as {
          error?: { code?: string };
          choices?: { delta?: { content?: string } }[];
          verity?: { gateway?: { charged: string; agentId: string } };
        };
        if (parsed.error) outcome.error = parsed.error.code ?? "error";
        const piece = parsed.choices?.[0]?.delta?.content;
        if (piece) {
          outcome.text += piece;
          if (!firstToken) {
            firstToken = true;
            await args.onFirstToken?.();
          }
        }
        if (parsed.verity?.gateway) {
          outcome.charged = BigInt(parsed.verity.gateway.charged);
          outcome.agentId = parsed.verity.gateway.agentId;
        }
      }
    }
  } catch {
    outcome.error ??= "connection_lost";
  }
  if (!outcome.complete) outcome.error ??= "connection_lost";
  return outcome;
}
