/** What the gateway charges its user for a provider charge: the charge plus the gateway fee, rounded up. */
export function userPrice(providerCharge: bigint, feeBps: number): bigint {
  const total = providerCharge * BigInt(10_000 + feeBps);
  return (total + 9_999n) / 10_000n;
}
