/**
 * Reads the x402 payment a request carries: `PAYMENT-SIGNATURE` (v2) or `X-PAYMENT` (v1), both
 * base64 JSON decoded with @x402/core's helper. The EIP-3009 authorization inside is checked for
 * shape here (zod); whether it is signed, funded and unused is the facilitator's job.
 */
import { PaymentError } from "@verity/core";
import { decodePaymentSignatureHeader } from "@x402/core/http";
import type { PaymentPayload, PaymentRequirements } from "@x402/core/types";
import { z } from "zod";

export type HeaderSource = Headers | Record<string, string | undefined>;

const uint = z.string().regex(/^\d{1,78}$/);
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/);

/** The `exact` EVM payload for EIP-3009 tokens (the only transfer method the gateway advertises). */
export const eip3009PayloadSchema = z.object({
  signature: z.string().regex(/^0x[0-9a-fA-F]+$/),
  authorization: z.object({
    from: address,
    to: address,
    value: uint,
    validAfter: uint,
    validBefore: uint,
    nonce: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  }),
});

export type Eip3009Authorization = z.infer<typeof eip3009PayloadSchema>["authorization"];

const v2Schema = z.object({
  x402Version: z.literal(2),
  accepted: z.object({
    scheme: z.string(),
    network: z.string(),
    asset: z.string(),
    amount: z.string(),
    payTo: z.string(),
  }),
  payload: z.record(z.string(), z.unknown()),
});

const v1Schema = z.object({
  x402Version: z.literal(1),
  scheme: z.string(),
  network: z.string(),
  payload: z.record(z.string(), z.unknown()),
});

export type ReceivedPayment = {
  /** Protocol version of the header (1 = `X-PAYMENT`, 2 = `PAYMENT-SIGNATURE`). */
  version: 1 | 2;
  /** The payload as the client sent it (v2), or a v1 payload restated as v2 for `requirements`. */
  payload: PaymentPayload;
  authorization: Eip3009Authorization;
};

function header(headers: HeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : headers[key];
}

function malformed(message: string, cause?: unknown): PaymentError {
  return new PaymentError(message, {
    code: "x402_payment_invalid",
    hint: "Send the base64 JSON payment payload produced by an x402 client",
    ...(cause === undefined ? {} : { cause }),
  });
}

/** The scheme a v2 payment header says it accepted (undefined when absent or undecodable). */
export function acceptedScheme(headers: HeaderSource): string | undefined {
  const raw = header(headers, "payment-signature") ?? header(headers, "x-payment");
  if (raw === undefined || raw.trim() === "") return undefined;
  try {
    const decoded = decodePaymentSignatureHeader(raw.trim()) as { accepted?: { scheme?: unknown } } | null;
    const scheme = decoded?.accepted?.scheme;
    return typeof scheme === "string" ? scheme : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decodes the request's payment header, or throws `x402_payment_required` (no header) /
 * `x402_payment_invalid` (not decodable). A v1 payload (no `accepted` field) is restated as a v2
 * payload accepting `requirements` when its scheme and network match (v1 is `exact` only).
 */
export function decodePayment(
  headers: HeaderSource,
  requirements: PaymentRequirements | undefined,
): { version: 1 | 2; payload: PaymentPayload } {
  const raw = header(headers, "payment-signature") ?? header(headers, "x-payment");
  if (raw === undefined || raw.trim() === "") {
    throw new PaymentError("This request needs an x402 payment", {
      code: "x402_payment_required",
      hint: "Pay with an x402 client: sign the PAYMENT-REQUIRED requirements and resend with PAYMENT-SIGNATURE",
    });
  }
  let decoded: unknown;
  try {
    decoded = decodePaymentSignatureHeader(raw.trim());
  } catch (cause) {
    throw malformed("The x402 payment header is not base64 JSON", cause);
  }
  const version = (decoded as { x402Version?: unknown } | null)?.x402Version;
  if (version === 2) {
    const parsed = v2Schema.safeParse(decoded);
    if (!parsed.success) throw malformed("The x402 v2 payment payload does not have the expected shape");
    return { version, payload: decoded as PaymentPayload };
  }
  if (version === 1) {
    const parsed = v1Schema.safeParse(decoded);
    if (!parsed.success) throw malformed("The x402 v1 payment payload does not have the expected shape");
    if (!requirements || parsed.data.scheme !== requirements.scheme || parsed.data.network !== requirements.network) {
      throw malformed(`The x402 v1 payment is for ${parsed.data.scheme} on ${parsed.data.network}`);
    }
    return { version, payload: { x402Version: 2, accepted: requirements, payload: parsed.data.payload } };
  }
  throw malformed(`Unsupported x402 version ${JSON.stringify(version)}`);
}

/**
 * Decodes the request's payment header against the `exact` requirements it pays for (see
 * `decodePayment`) and checks it carries an EIP-3009 authorization with a signature
 * (`x402_payment_invalid` otherwise); the facilitator then checks the signed authorization.
 */
export function readPayment(headers: HeaderSource, requirements: PaymentRequirements): ReceivedPayment {
  const { version, payload } = decodePayment(headers, requirements);
  const exact = eip3009PayloadSchema.safeParse(payload.payload);
  if (!exact.success) throw malformed("The x402 payment is not an EIP-3009 authorization with a signature");
  return { version, payload, authorization: exact.data.authorization };
}
