/** The gateway data API's answers as the page reads them. Amounts are decimal strings of base units. */

export type Config = {
  chainId: number;
  token: { address: string; symbol: string; decimals: number };
  gateway: { address: string; feeBps: number };
  blockExplorerUrl: string | null;
  contracts: Record<string, string>;
};

export type Network = {
  providersOnline: number;
  providers: number;
  providersStaked: number;
  engines: number;
  models: string[];
  modelsRegistered: number;
  requestsPerSec: number;
  tokensPerSec: number;
  requests: number;
  failed: number;
  tokens: number;
  charged: string;
  trafficSince: number;
  totalPaid: string;
  claims: number;
  providerEarnings: string;
  royaltiesPaid: string;
  protocolFees: string;
  stakeLocked: string;
  slashed: string;
  openChannels: number;
  escrow: string;
  channelRefunds: string;
  disputesOpen: number;
  disputes: number;
  indexedBlock: string;
  chainNow: number;
};

export type Offer = {
  offerId: string;
  model: string;
  modelId: string;
  inputPricePerMTok: string;
  outputPricePerMTok: string;
  maxOutputTokens: number;
  url: string;
  live: boolean;
  healthy: boolean;
};

export type Provider = {
  agentId: string;
  owner: string;
  uri: string;
  wallet: string | null;
  stake: string;
  unbonding: string;
  slashed: string;
  paused: boolean;
  earnings: string;
  claims: number;
  settledVolume: string;
  slashes: number;
  reputation: { count: number; average: number } | null;
  audits: { passed: number; failed: number };
  disputes: { open: number; guilty: number; notGuilty: number };
  healthy: boolean;
  latencyMs: number | null;
  failureRate: number | null;
  queueDepth: number;
  uptime: number | null;
  requests: number;
  failed: number;
  tokens: number;
  avgRequestMs: number | null;
  trafficShare: number;
  earningsShare: number;
  offers: Offer[];
};

/** `/api/datasets`: a registered dataset, the models crediting it and what claims paid it. */
export type Dataset = {
  datasetId: string;
  digest: string;
  owner: string;
  minShareBps: number;
  pricePerUse: string;
  licenceURI: string;
  uri: string;
  credits: { modelId: string; shareBps: number }[];
  earned: string;
  payees: { to: string; amount: string; payments: number }[];
};

export type Model = {
  modelId: string;
  name: string;
  owner: string;
  royaltyBps: number;
  licenceURI: string;
  weightsHash: string;
  settledVolume: string;
  royaltiesPaid: string;
  providers: number;
  minOutputPricePerMTok: string | null;
  maxOutputPricePerMTok: string | null;
  minInputPricePerMTok: string | null;
  maxInputPricePerMTok: string | null;
  prices: { agentId: string; inputPricePerMTok: string; outputPricePerMTok: string; healthy: boolean }[];
  requests: number;
  tokens: number;
  requestShare: number;
  volumeShare: number;
};

export type SeriesPoint = {
  t: number;
  requests: number;
  failed: number;
  tokens: number;
  promptTokens: number;
  completionTokens: number;
  charged: string;
  paid: string;
};

export type Series = { stepMs: number; points: SeriesPoint[] };

export type FeedEvent = {
  block: number;
  log_index: number;
  tx_hash: string;
  timestamp: number;
  contract: string;
  name: string;
  args: Record<string, unknown>;
};

export type Dispute = {
  disputeId: string;
  agentId: string;
  challenger: string;
  receiptHash: string;
  requestId: string;
  channelId: string;
  charge: string;
  bond: string;
  evidenceURI: string;
  openedBlock: number;
  openedAt: number;
  committee: string[];
  commits: string[];
  reveals: { voter: string; guilty: boolean }[];
  status: "open" | "guilty" | "notGuilty";
  slashed: string;
  refunded: string;
  challengerReward: string;
  treasuryAmount: string;
  bondRecipient: string | null;
  resolvedBlock: number | null;
  resolvedTxHash: string | null;
};

export type Overview = {
  updatedAt: number;
  network: Network;
  providers: Provider[];
  models: Model[];
  series: Series;
  events: FeedEvent[];
  disputes: Dispute[];
};

export type ProviderDetail = {
  provider: Provider;
  channels: {
    channelId: string;
    payer: string;
    modelId: string;
    deposit: string;
    claimed: string;
    finalized: boolean;
    withdrawing: boolean;
    openedBlock: number;
    /** Set when the payer is itself a registered agent: agent-to-agent traffic. */
    payerAgentId?: string;
  }[];
  events: FeedEvent[];
  disputes: Dispute[];
  series: Series;
};

export type TxDetail = { hash: string; block: number; timestamp: number; events: FeedEvent[] };

export type Validator = {
  validator: string;
  agentId: string;
  bond: string;
  active: boolean;
  votes: number;
  rewarded: string;
  penalized: string;
};

/** One step of an oracle request's timeline: chain time (unix s), block and transaction. */
export type OracleStep = { at: number; block: number; txHash: string };

/** `/api/oracle`: an inference-oracle request, folded from the oracle's events. */
export type OracleRequest = {
  requestId: string;
  requester: string;
  modelId: string;
  offerId: string;
  fee: string;
  status: "requested" | "answered" | "challenged" | "rejected" | "finalized" | "refunded";
  maxTokens: number;
  seed: string;
  prompt: string | null;
  promptURI: string;
  promptHash: string;
  deadline: number;
  callbackTarget: string | null;
  answer: {
    agentId: string;
    answerer: string;
    text: string;
    truncated: boolean;
    bytes: number;
    receiptHash: string;
    promptTokens: number;
    completionTokens: number;
    bond: string;
  } | null;
  challenge: { challenger: string; bond: string; resolution: "pending" | "guilty" | "dismissed" } | null;
  payout: { agentId: string; provider: string; royalty: string; protocolFee: string } | null;
  callbackOk: boolean | null;
  refunded: string | null;
  timeline: {
    requested: OracleStep;
    answered: OracleStep | null;
    challenged: OracleStep | null;
    resolved: OracleStep | null;
    finalized: OracleStep | null;
    refunded: OracleStep | null;
  };
};

/** `/api/oracle` page: newest first; `next` is the `before` of the next page. */
export type OraclePage = { data: OracleRequest[]; total: number; next: string | null };
