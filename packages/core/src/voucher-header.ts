import { PaymentError } from "./errors.ts";
import { type SignedVoucher, signedVoucherSchema } from "./voucher.ts";

/** HTTP header names of the Verity payment protocol. */
export const HEADERS = {
  voucher: "verity-voucher",
  charged: "verity-charged",
  receipt: "verity-receipt",
  requestId: "verity-request-id",
} as const;

/** Base64 of the voucher JSON, as sent in the `Verity-Voucher` header. */
export function encodeVoucherHeader(v: SignedVoucher & { chainId?: number; contract?: `0x${string}` }): string {
  const json = {
    channelId: v.channelId,
    cumulativeAmount: v.cumulativeAmount.toString(),
    signature: v.signature,
    ...(v.chainId === undefined ? {} : { chainId: v.chainId }),
    ...(v.contract === undefined ? {} : { contract: v.contract }),
  };
  return Buffer.from(JSON.stringify(json)).toString("base64");
}

export type DecodedVoucher = SignedVoucher & { chainId?: number; contract?: string };

/** Parses a `Verity-Voucher` header; a malformed one fails with `voucher_malformed`. */
export function decodeVoucherHeader(header: string): DecodedVoucher {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(header, "base64").toString("utf8"));
  } catch {
    throw new PaymentError("The Verity-Voucher header is not base64 JSON", {
      code: "voucher_malformed",
      hint: "Send base64 of {channelId, cumulativeAmount, signature}",
    });
  }
  const { chainId, contract, ...rest } = (json ?? {}) as Record<string, unknown>;
  const parsed = signedVoucherSchema.safeParse(rest);
  if (
    !parsed.success ||
    (chainId !== undefined && typeof chainId !== "number") ||
    (contract !== undefined && typeof contract !== "string")
  ) {
    const issue = parsed.success ? undefined : parsed.error.issues[0];
    throw new PaymentError(`The voucher is malformed${issue ? `: ${issue.path.join(".")} ${issue.message}` : ""}`, {
      code: "voucher_malformed",
      hint: "Send base64 of {channelId, cumulativeAmount, signature}",
    });
  }
  return {
    ...parsed.data,
    ...(chainId === undefined ? {} : { chainId: chainId as number }),
    ...(contract === undefined ? {} : { contract: contract as string }),
  };
}
