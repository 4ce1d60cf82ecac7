import { z } from "zod";

export const addressSchema = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte hex address")
  .transform((v) => v as `0x${string}`);

/** A bigint given as a bigint, a safe integer or a decimal string (JSON files store strings). */
export const uintSchema = z.union([
  z.bigint().nonnegative(),
  z
    .number()
    .int()
    .nonnegative()
    .transform((v) => BigInt(v)),
  z
    .string()
    .regex(/^\d+$/, "must be a non-negative integer")
    .transform((v) => BigInt(v)),
]);

const bps = z.number().int().min(0).max(10_000);

/** Deployment parameters; every field has a default fit for a devnet. */
export const deployParamsSchema = z
  .object({
    /** Existing payment token (a USD stablecoin); when absent TestUSD is deployed. */
    token: addressSchema.optional(),
    /** TestUSD faucet (devnets only). */
    faucet: z.boolean().default(true),
    treasury: addressSchema.optional(),
    protocolFeeBps: bps.default(100),
    maxRoyaltyBps: bps.default(2_000),
    minWithdrawDelay: uintSchema.default(900n),
    maxWithdrawDelay: uintSchema.default(30n * 86_400n),
    minStakePerOffer: uintSchema.default(100_000_000n),
    auditWindow: uintSchema.default(86_400n),
    disputeWindow: uintSchema.default(2n * 86_400n),
    unbondingDelay: uintSchema.default(4n * 86_400n),
    /** Disputes: bond a challenge posts (10 TestUSD). */
    challengeBond: uintSchema.default(10_000_000n),
    /** Disputes: bond a validator posts at registration (50 TestUSD). */
    validatorBond: uintSchema.default(50_000_000n),
    /** Disputes: most a committee member loses for not revealing or voting with a losing minority (5 TestUSD). */
    voterPenalty: uintSchema.default(5_000_000n),
    /** Disputes: stake slashed on a guilty verdict, `min(stake, max(slashAmount, refund due))` (100 TestUSD). */
    slashAmount: uintSchema.default(100_000_000n),
    /** Disputes: challenger's share of the slash left after the payer's refund. */
    challengerRewardBps: bps.default(2_000),
    /** Disputes: validators drawn per dispute. */
    committeeSize: z.number().int().min(1).max(32).default(3),
    /** Disputes: seconds after a challenge during which votes are committed. */
    commitWindow: uintSchema.default(86_400n),
    /** Disputes: seconds after the commit window during which votes are revealed. */
    revealWindow: uintSchema.default(86_400n),
    /** InferenceOracle: who decides challenges of answers (default: the deployer; a trust assumption). */
    oracleResolver: addressSchema.optional(),
    /** InferenceOracle: bond an answer posts, lost to a successful challenger (5 TestUSD). */
    oracleAnswerBond: uintSchema.default(5_000_000n),
    /** InferenceOracle: bond a challenge of an answer posts, lost to the answerer if it stands (5 TestUSD). */
    oracleChallengeBond: uintSchema.default(5_000_000n),
    /** InferenceOracle: seconds after an answer during which anyone may challenge it. */
    oracleChallengeWindow: uintSchema.default(600n),
    /** InferenceOracle: seconds the resolver has to decide a challenge before everyone is refunded. */
    oracleResolveTimeout: uintSchema.default(2n * 86_400n),
    /** InferenceOracle: highest callback gas limit a request may ask for. */
    oracleMaxCallbackGas: z.number().int().min(0).max(10_000_000).default(1_000_000),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.unbondingDelay <= p.auditWindow + p.disputeWindow) {
      ctx.addIssue({
        code: "custom",
        path: ["unbondingDelay"],
        message: "must be longer than auditWindow + disputeWindow, so stake outlives the disputes it backs",
      });
    }
    if (p.commitWindow === 0n || p.revealWindow === 0n || p.commitWindow + p.revealWindow > p.disputeWindow) {
      ctx.addIssue({
        code: "custom",
        path: ["commitWindow"],
        message: "commitWindow and revealWindow must be non-zero and fit in disputeWindow together",
      });
    }
    if (p.voterPenalty > p.validatorBond) {
      ctx.addIssue({ code: "custom", path: ["voterPenalty"], message: "must not exceed validatorBond" });
    }
    if (p.oracleChallengeWindow === 0n || p.oracleResolveTimeout === 0n) {
      ctx.addIssue({
        code: "custom",
        path: ["oracleChallengeWindow"],
        message: "oracleChallengeWindow and oracleResolveTimeout must be non-zero",
      });
    }
    if (p.minWithdrawDelay > p.maxWithdrawDelay) {
      ctx.addIssue({ code: "custom", path: ["minWithdrawDelay"], message: "must not exceed maxWithdrawDelay" });
    }
  });

export type DeployParamsInput = z.input<typeof deployParamsSchema>;
export type DeployParams = z.output<typeof deployParamsSchema>;

export const CONTRACT_NAMES = [
  "TestUSD",
  "AgentRegistry",
  "DatasetRegistry",
  "ModelRegistry",
  "PaymentChannels",
  "ReputationRegistry",
  "ValidationRegistry",
  "Staking",
  "Disputes",
  "GatewayDeposits",
  "InferenceOracle",
  "OracleMarketResolver",
] as const;
export type ContractName = (typeof CONTRACT_NAMES)[number];

const deployedContract = z.object({ address: addressSchema, block: z.number().int().nonnegative() });

/** The deployment file: everything a node needs to find and follow a Verity deployment. */
export const deploymentSchema = z.object({
  version: z.literal(1),
  chainId: z.number().int().positive(),
  deployer: addressSchema,
  /** First block of the deployment; indexers start here. */
  startBlock: z.number().int().nonnegative(),
  contracts: z.object({
    TestUSD: deployedContract.optional(),
    AgentRegistry: deployedContract,
    /** Datasets models credit with shares of their royalty (absent in files written before it existed). */
    DatasetRegistry: deployedContract.optional(),
    ModelRegistry: deployedContract,
    PaymentChannels: deployedContract,
    ReputationRegistry: deployedContract,
    ValidationRegistry: deployedContract,
    Staking: deployedContract,
    Disputes: deployedContract,
    /** Deposits that fund gateways' prepaid balances (absent in files written before it existed). */
    GatewayDeposits: deployedContract.optional(),
    /** The inference oracle and its example consumer (absent in files written before they existed). */
    InferenceOracle: deployedContract.optional(),
    OracleMarketResolver: deployedContract.optional(),
  }),
  token: z.object({
    address: addressSchema,
    name: z.string(),
    symbol: z.string(),
    decimals: z.number().int(),
    /** EIP-712 domain version of the token (for permit / EIP-3009 signatures). */
    version: z.string(),
  }),
  params: z.object({
    faucet: z.boolean(),
    treasury: addressSchema,
    protocolFeeBps: z.number().int(),
    maxRoyaltyBps: z.number().int(),
    minWithdrawDelay: z.string(),
    maxWithdrawDelay: z.string(),
    minStakePerOffer: z.string(),
    auditWindow: z.string(),
    disputeWindow: z.string(),
    unbondingDelay: z.string(),
    // Disputes parameters (absent in deployment files written before disputes went live).
    challengeBond: z.string().optional(),
    validatorBond: z.string().optional(),
    voterPenalty: z.string().optional(),
    slashAmount: z.string().optional(),
    challengerRewardBps: z.number().int().optional(),
    committeeSize: z.number().int().optional(),
    commitWindow: z.string().optional(),
    revealWindow: z.string().optional(),
    // InferenceOracle parameters (absent in deployment files written before the oracle existed).
    oracleResolver: addressSchema.optional(),
    oracleAnswerBond: z.string().optional(),
    oracleChallengeBond: z.string().optional(),
    oracleChallengeWindow: z.string().optional(),
    oracleResolveTimeout: z.string().optional(),
    oracleMaxCallbackGas: z.number().int().optional(),
  }),
  createdAt: z.string(),
});

export type Deployment = z.infer<typeof deploymentSchema>;
