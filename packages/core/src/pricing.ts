/** Prices are in token base units (TestUSD: 6 decimals) per one million tokens. */
export type Price = { inputPerMTok: bigint; outputPerMTok: bigint };

const MILLION = 1_000_000n;

/** `ceil((promptTokens × input + completionTokens × output) / 1e6)`: what a request costs. */
export function chargeFor(args: { price: Price; promptTokens: number; completionTokens: number }): bigint {
  const total =
    BigInt(args.promptTokens) * args.price.inputPerMTok + BigInt(args.completionTokens) * args.price.outputPerMTok;
  return (total + MILLION - 1n) / MILLION;
}

/** The most a request can cost: its prompt plus `maxTokens` of output. A voucher must cover it. */
export function ceilingFor(args: { price: Price; promptTokens: number; maxTokens: number }): bigint {
  return chargeFor({ price: args.price, promptTokens: args.promptTokens, completionTokens: args.maxTokens });
}
