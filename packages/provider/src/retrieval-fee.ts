import { ConfigError } from "@verity/core";

const BPS = 10_000n;

/**
 * The surcharge each retrieving request of a "model + dataset" offering adds to its charge (and to
 * the ceiling the client's voucher must cover), so that claims pay the dataset at least its
 * `pricePerUse` per request through the composite model's royalty credit alone.
 *
 * A claim pays the dataset `floor(floor(increase × r / 10⁴) summed over channels × s / 10⁴)`, where
 * `r` is the composite's royalty (capped at `10⁴ − protocol fee`) and `s` the dataset's share. Each
 * floor loses under one unit: under one per channel plus one per claim call, so at most `N + 1`
 * units for `N ≥ 1` requests. With a fee `u = ceil((p + 2) × 10⁸ / (r × s))`, `N` requests carry
 * at least `N × u` and the dataset receives more than `N × (p + 2) − (N + 1) ≥ N × p`. The rest of
 * the surcharge (and the dataset's share of the token charge) is split as every charge is.
 */
export function retrievalFee(args: { pricePerUse: bigint; royaltyBps: bigint; shareBps: bigint }): bigint {
  if (args.pricePerUse === 0n) return 0n;
  if (args.royaltyBps <= 0n || args.shareBps <= 0n) {
    throw new ConfigError("The offering's model pays the dataset no royalty, so no fee can reach it", {
      code: "dataset_not_credited",
      hint: "Register the composite model with a royalty and credit the dataset (verity model credit-dataset)",
    });
  }
  const denominator = args.royaltyBps * args.shareBps;
  return ((args.pricePerUse + 2n) * BPS * BPS + denominator - 1n) / denominator;
}

/** The least a claim of `requests` whole requests pays the dataset (the bound `retrievalFee` guarantees). */
export function datasetFloor(args: { pricePerUse: bigint; requests: bigint }): bigint {
  return args.pricePerUse * args.requests;
}
