import {
  encodeVoucherHeader,
  HEADERS,
  type SignedReceiptJson,
  signedReceiptSchema,
  voucherDomain,
  voucherTypes,
} from "@verity/core";
import type { LocalAccount } from "viem";

export type VoucherFetchOptions = {
  channelId: `0x${string}`;
  /** The channel's payer authorizer (hot key). */
  authorizer: LocalAccount;
  chainId: number;
  paymentChannels: `0x${string}`;
  /** Headroom signed above the charged total for each request: at least the request's ceiling. */
  headroom: bigint;
  /** Charged total already owed on the channel (0 for a new channel). */
  charged?: bigint;
  fetch?: typeof fetch;
  /** Called with each response's receipt and new charged total. */
  onReceipt?: (args: { receipt: SignedReceiptJson; charged: bigint }) => void;
};

/**
 * A `fetch` that pays a Verity provider with a voucher per request — hand it to the official
 * `openai` client as its `fetch` option. It signs `charged + headroom`, then learns the new charged
 * total from the `Verity-Charged` header or, for streams, from the trailing `verity` chunk.
 * Send requests one after another (read a stream to its end first) so each voucher builds on the
 * previous charge; concurrent requests need a voucher with room for all of them.
 *
 * Every voucher is above the last one signed: a request whose outcome it never saw (a stream the
 * caller aborted, which the provider charges for what it delivered) has spent its voucher. When the
 * provider then refuses with the charged total it holds (`voucher_below_ceiling`,
 * `voucher_not_monotonic`, `voucher_replayed` with `details.charged`), it learns that total and
 * sends the request once more — believing it only up to what its own requests without a receipt
 * could have been charged (their vouchers' headroom), which then count as settled. So a provider
 * that states more than it is owed gains nothing it did not already hold a voucher for.
 */
export function createVoucherFetch(options: VoucherFetchOptions) {
  let charged = options.charged ?? 0n;
  let highestSigned = 0n;
  let sent = 0;
  /** Requests answered without a receipt seen yet (aborted streams among them): id → their voucher's headroom. */
  const unsettled = new Map<number, bigint>();
  const baseFetch = options.fetch ?? fetch;
  const domain = voucherDomain({ chainId: options.chainId, verifyingContract: options.paymentChannels });

  function settle(receipt: unknown, newCharged: string | null | undefined): void {
    if (newCharged == null) return;
    const value = BigInt(newCharged);
    if (value > charged) charged = value;
    const parsed = signedReceiptSchema.safeParse(receipt);
    if (parsed.success) options.onReceipt?.({ receipt: parsed.data, charged: value });
  }

  /** The provider's stated charged total, when its refusal is a resync we may believe. */
  function statedCharged(body: unknown): bigint | undefined {
    const error = (body as { error?: { code?: string; details?: { charged?: unknown } } } | undefined)?.error;
    const code = error?.code;
    if (code !== "voucher_below_ceiling" && code !== "voucher_not_monotonic" && code !== "voucher_replayed") {
      return undefined;
    }
    const text = error?.details?.charged;
    if (typeof text !== "string" || !/^\d+$/.test(text)) return undefined;
    const value = BigInt(text);
    let explained = charged;
    for (const headroom of unsettled.values()) explained += headroom;
    return value > charged && value <= explained && value <= highestSigned ? value : undefined;
  }

  async function send(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const response = await sendOnce(input, init);
    const resendable = !(input instanceof Request) && (init?.body === undefined || typeof init.body === "string");
    if ((response.status !== 402 && response.status !== 409) || !resendable) return response;
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const stated = statedCharged(body);
    if (stated === undefined) {
      return new Response(text, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    }
    charged = stated;
    unsettled.clear(); // the stated total accounts for every request whose receipt never came
    return sendOnce(input, init);
  }

  async function sendOnce(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const chargedAtSign = charged;
    const wanted = charged + options.headroom;
    const cumulativeAmount = wanted > highestSigned ? wanted : highestSigned + 1n;
    highestSigned = cumulativeAmount;
    const signature = await options.authorizer.signTypedData({
      domain,
      types: voucherTypes,
      primaryType: "Voucher",
      message: { channelId: options.channelId, cumulativeAmount },
    });
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set(HEADERS.voucher, encodeVoucherHeader({ channelId: options.channelId, cumulativeAmount, signature }));
    const response = await baseFetch(input, { ...init, headers });
    if (!response.ok || !response.body) return response;
    const id = ++sent;
    unsettled.set(id, cumulativeAmount - chargedAtSign);
    const type = response.headers.get("content-type") ?? "";
    if (!type.includes("text/event-stream")) {
      const receiptHeader = response.headers.get(HEADERS.receipt);
      const receipt = receiptHeader ? JSON.parse(Buffer.from(receiptHeader, "base64").toString("utf8")) : undefined;
      settle(receipt, response.headers.get(HEADERS.charged));
      unsettled.delete(id);
      return response;
    }
    // Stream: pass every byte through, and read the trailing `verity` chunk on the way.
    const decoder = new TextDecoder();
    let buffer = "";
    const watch = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        controller.enqueue(chunk);
        buffer += decoder.decode(chunk, { stream: true });
        let index = buffer.indexOf("\n");
        while (index >= 0) {
          const line = buffer.slice(0, index).trim();
          buffer = buffer.slice(index + 1);
          if (line.startsWith("data:") && line.includes('"verity"')) {
            const data = JSON.parse(line.slice(5)) as {
              verity?: { charged?: string; receipt?: unknown; signature?: string; signer?: string };
            };
            if (data.verity) {
              unsettled.delete(id);
              settle(
                { receipt: data.verity.receipt, signature: data.verity.signature, signer: data.verity.signer },
                data.verity.charged,
              );
            }
          }
          index = buffer.indexOf("\n");
        }
      },
    });
    return new Response(response.body.pipeThrough(watch), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }

  return {
    fetch: send as typeof fetch,
    /** The charged total learned so far (the next voucher builds on it). */
    get charged(): bigint {
      return charged;
    },
  };
}
