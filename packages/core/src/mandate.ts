/**
 * Spend mandates: an owner's EIP-712 signature bounding what one spender key (an agent, an MCP
 * session, a script) may pay — per call, per rolling hour, per rolling day and in total; which
 * models, quantizations and counterparties (provider agent ids); the highest unit price; and a
 * validity window. In the spirit of AP2's intent mandates: the owner signs the bounds once, the
 * spender's software enforces them before it signs any voucher or payment, and anyone holding the
 * mandate can check what was allowed.
 *
 * Amounts are in the payment token's base units; prices per million tokens, like offers. A zero
 * limit means "no limit" for the spend windows and the unit price; an empty list allows any value.
 */
import { type Hex, hashTypedData, recoverTypedDataAddress } from "viem";
import { z } from "zod";
import { BaseError } from "./errors.ts";

/** A mandate was refused, or a payment falls outside one. */
export class MandateError extends BaseError {
  override name = "MandateError";
}

export const mandateTypes = {
  SpendMandate: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "token", type: "address" },
    { name: "perCall", type: "uint256" },
    { name: "perHour", type: "uint256" },
    { name: "perDay", type: "uint256" },
    { name: "total", type: "uint256" },
    { name: "maxInputPricePerMTok", type: "uint256" },
    { name: "maxOutputPricePerMTok", type: "uint256" },
    { name: "models", type: "string[]" },
    { name: "quantizations", type: "string[]" },
    { name: "counterparties", type: "uint256[]" },
    { name: "validAfter", type: "uint64" },
    { name: "validBefore", type: "uint64" },
    { name: "salt", type: "bytes32" },
  ],
} as const;

/** Mandates are signed in the domain "Verity Mandate" v1 of one chain (no verifying contract). */
export function mandateDomain(args: { chainId: number }) {
  return { name: "Verity Mandate", version: "1", chainId: args.chainId } as const;
}

export type SpendMandate = {
  owner: Hex;
  spender: Hex;
  token: Hex;
  perCall: bigint;
  perHour: bigint;
  perDay: bigint;
  total: bigint;
  maxInputPricePerMTok: bigint;
  maxOutputPricePerMTok: bigint;
  models: readonly string[];
  quantizations: readonly string[];
  counterparties: readonly bigint[];
  /** Unix seconds. */
  validAfter: bigint;
  /** Unix seconds; the mandate is void from this second on. */
  validBefore: bigint;
  salt: Hex;
};

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/) as unknown as z.ZodType<Hex>;
const uint = z
  .union([z.string().regex(/^\d{1,78}$/), z.number().int().nonnegative(), z.bigint().nonnegative()])
  .transform((v) => BigInt(v));

/** A mandate as JSON (amounts as decimal strings), with its signature: what users and agents pass around. */
export const signedMandateSchema = z
  .object({
    chainId: z.number().int().positive(),
    mandate: z
      .object({
        owner: address,
        spender: address,
        token: address,
        perCall: uint,
        perHour: uint,
        perDay: uint,
        total: uint,
        maxInputPricePerMTok: uint,
        maxOutputPricePerMTok: uint,
        models: z.array(z.string().min(1).max(200)).max(64),
        quantizations: z.array(z.string().min(1).max(40)).max(32),
        counterparties: z.array(uint).max(256),
        validAfter: uint,
        validBefore: uint,
        salt: z.string().regex(/^0x[0-9a-fA-F]{64}$/) as unknown as z.ZodType<Hex>,
      })
      .strict(),
    signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/) as unknown as z.ZodType<Hex>,
  })
  .strict();

export type SignedMandate = { chainId: number; mandate: SpendMandate; signature: Hex };

/** The JSON form of a signed mandate (bigints as decimal strings). */
export function mandateJson(signed: SignedMandate): Record<string, unknown> {
  const m = signed.mandate;
  return {
    chainId: signed.chainId,
    mandate: {
      ...m,
      perCall: m.perCall.toString(),
      perHour: m.perHour.toString(),
      perDay: m.perDay.toString(),
      total: m.total.toString(),
      maxInputPricePerMTok: m.maxInputPricePerMTok.toString(),
      maxOutputPricePerMTok: m.maxOutputPricePerMTok.toString(),
      models: [...m.models],
      quantizations: [...m.quantizations],
      counterparties: m.counterparties.map(String),
      validAfter: m.validAfter.toString(),
      validBefore: m.validBefore.toString(),
    },
    signature: signed.signature,
  };
}

/** The mandate's EIP-712 digest: its identity in ledgers and logs. */
export function mandateHash(signed: Pick<SignedMandate, "chainId" | "mandate">): Hex {
  return hashTypedData({
    domain: mandateDomain({ chainId: signed.chainId }),
    types: mandateTypes,
    primaryType: "SpendMandate",
    message: signed.mandate,
  });
}

/**
 * Parses a signed mandate from untrusted JSON and checks it: the shape, the chain, the owner's
 * signature, the spender, and a sane window. Throws `MandateError` (`mandate_invalid`) otherwise.
 * The time window is judged per payment (`checkMandateTime`), not here.
 */
export async function parseSignedMandate(options: {
  value: unknown;
  chainId: number;
  /** The key that will spend under it (the mandate must name it). */
  spender: Hex;
}): Promise<SignedMandate> {
  const parsed = signedMandateSchema.safeParse(options.value);
  if (!parsed.success) {
    throw new MandateError("The spend mandate is malformed", {
      code: "mandate_invalid",
      hint: "Pass the owner-signed JSON { chainId, mandate: {…}, signature } (see mandateJson)",
      details: { issues: parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".")}: ${i.message}`) },
    });
  }
  const signed = parsed.data as SignedMandate;
  if (signed.chainId !== options.chainId) {
    throw new MandateError(`The spend mandate is for chain ${signed.chainId}, not ${options.chainId}`, {
      code: "mandate_invalid",
      hint: "Sign a mandate for the chain this client pays on",
      details: { mandateChainId: signed.chainId, chainId: options.chainId },
    });
  }
  if (signed.mandate.spender.toLowerCase() !== options.spender.toLowerCase()) {
    throw new MandateError("The spend mandate names another spender key", {
      code: "mandate_invalid",
      hint: `Sign a mandate whose spender is ${options.spender}`,
      details: { spender: signed.mandate.spender, key: options.spender },
    });
  }
  if (signed.mandate.validBefore <= signed.mandate.validAfter) {
    throw new MandateError("The spend mandate's validity window is empty", {
      code: "mandate_invalid",
      hint: "validBefore must be later than validAfter",
    });
  }
  const recovered = await recoverTypedDataAddress({
    domain: mandateDomain({ chainId: signed.chainId }),
    types: mandateTypes,
    primaryType: "SpendMandate",
    message: signed.mandate,
    signature: signed.signature,
  }).catch(() => undefined);
  if (!recovered || recovered.toLowerCase() !== signed.mandate.owner.toLowerCase()) {
    throw new MandateError("The spend mandate is not signed by its owner", {
      code: "mandate_invalid",
      hint: "Have the owner's key sign it again; a mandate cannot be edited after signing",
      details: { owner: signed.mandate.owner, ...(recovered ? { signer: recovered } : {}) },
    });
  }
  return signed;
}

/** `mandate_expired` unless `nowSeconds` is inside [validAfter, validBefore). */
export function checkMandateTime(mandate: SpendMandate, nowSeconds: bigint): void {
  if (nowSeconds < mandate.validAfter || nowSeconds >= mandate.validBefore) {
    throw new MandateError(
      nowSeconds < mandate.validAfter ? "The spend mandate is not valid yet" : "The spend mandate has expired",
      {
        code: "mandate_expired",
        hint: "Ask the owner for a mandate valid now",
        details: {
          validAfter: mandate.validAfter.toString(),
          validBefore: mandate.validBefore.toString(),
          now: nowSeconds.toString(),
        },
      },
    );
  }
}

export type MandateOffer = {
  model: string;
  quantization?: string;
  agentId: bigint;
  inputPricePerMTok: bigint;
  outputPricePerMTok: bigint;
};

/**
 * Why `offer` is outside the mandate (`limit` names the rule), or undefined when it is allowed.
 * An offer that announces no quantization is outside a mandate that lists quantizations.
 */
export function mandateRefusal(
  mandate: SpendMandate,
  offer: MandateOffer,
): { code: "mandate_not_allowed" | "mandate_exceeded"; limit: string } | undefined {
  if (mandate.models.length > 0 && !mandate.models.includes(offer.model)) {
    return { code: "mandate_not_allowed", limit: "models" };
  }
  if (
    mandate.quantizations.length > 0 &&
    (offer.quantization === undefined || !mandate.quantizations.includes(offer.quantization))
  ) {
    return { code: "mandate_not_allowed", limit: "quantizations" };
  }
  if (mandate.counterparties.length > 0 && !mandate.counterparties.includes(offer.agentId)) {
    return { code: "mandate_not_allowed", limit: "counterparties" };
  }
  if (mandate.maxInputPricePerMTok > 0n && offer.inputPricePerMTok > mandate.maxInputPricePerMTok) {
    return { code: "mandate_exceeded", limit: "max_input_price" };
  }
  if (mandate.maxOutputPricePerMTok > 0n && offer.outputPricePerMTok > mandate.maxOutputPricePerMTok) {
    return { code: "mandate_exceeded", limit: "max_output_price" };
  }
  return undefined;
}
