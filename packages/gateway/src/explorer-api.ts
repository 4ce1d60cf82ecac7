import type { Indexer } from "@verity/chain";
import type { Hono } from "hono";
import type { OfferDirectory } from "./offer-directory.ts";

type Row = Record<string, string | number | null>;

const sum = (rows: Row[], key: string): string =>
  rows.reduce((s, r) => s + BigInt(String(r[key] ?? "0")), 0n).toString();

/**
 * The explorer's data API, read from the gateway's indexer: network totals, providers, models and a
 * feed of recent protocol events linked to their transactions. Amounts are decimal strings in
 * payment-token base units.
 */
export function mountExplorerApi(app: Hono, deps: { indexer: Indexer; directory: OfferDirectory }): void {
  const { db } = deps.indexer;
  const all = (sql: string, ...params: (string | number)[]) => db.prepare(sql).all(...params) as Row[];

  app.get("/api/network", (c) => {
    const claims = all("SELECT increase, provider_amount, royalty_amount, fee_amount FROM claims");
    const stakes = all("SELECT bonded, unbonding FROM stakes");
    const open = all("SELECT deposit, claimed FROM channels WHERE finalized = 0");
    const offers = deps.directory.offers();
    return c.json({
      providersOnline: new Set(offers.filter((o) => o.healthy).map((o) => o.agentId.toString())).size,
      providers: new Set(offers.map((o) => o.agentId.toString())).size,
      models: deps.directory.models(),
      totalPaid: sum(claims, "increase"),
      providerEarnings: sum(claims, "provider_amount"),
      royaltiesPaid: sum(claims, "royalty_amount"),
      protocolFees: sum(claims, "fee_amount"),
      stakeLocked: (BigInt(sum(stakes, "bonded")) + BigInt(sum(stakes, "unbonding"))).toString(),
      openChannels: open.length,
      escrow: open.reduce((s, r) => s + BigInt(String(r.deposit)) - BigInt(String(r.claimed)), 0n).toString(),
      indexedBlock: deps.indexer.cursor().toString(),
    });
  });

  app.get("/api/providers", (c) => {
    const agents = all(
      "SELECT a.agent_id, a.owner, a.uri, s.bonded, s.unbonding, s.slashed, s.paused FROM agents a LEFT JOIN stakes s ON s.agent_id = a.agent_id",
    );
    const earnings = new Map(
      all(
        "SELECT receiver_agent_id AS id, SUM(CAST(provider_amount AS INTEGER)) AS earned, COUNT(*) AS claims FROM claims GROUP BY receiver_agent_id",
      ).map((r) => [String(r.id), r]),
    );
    const offers = deps.directory.offers();
    return c.json({
      data: agents
        .filter((a) => a.bonded !== null)
        .map((a) => {
          const id = String(a.agent_id);
          const own = offers.filter((o) => o.agentId.toString() === id);
          return {
            agentId: id,
            owner: a.owner,
            uri: a.uri,
            stake: String(a.bonded ?? "0"),
            unbonding: String(a.unbonding ?? "0"),
            slashed: String(a.slashed ?? "0"),
            paused: a.paused === 1,
            earnings: String(earnings.get(id)?.earned ?? 0),
            claims: Number(earnings.get(id)?.claims ?? 0),
            healthy: own.some((o) => o.healthy),
            latencyMs: own[0] ? Math.round(own[0].latencyMs) : null,
            offers: own.map((o) => ({
              model: o.model,
              inputPricePerMTok: o.inputPricePerMTok.toString(),
              outputPricePerMTok: o.outputPricePerMTok.toString(),
              url: o.url,
            })),
          };
        }),
    });
  });

  app.get("/api/models", (c) => {
    const models = all("SELECT model_id, owner, royalty_bps, licence_uri, name FROM models");
    const offers = deps.directory.offers();
    return c.json({
      data: models.map((m) => {
        const serving = offers.filter((o) => o.modelId.toString() === String(m.model_id));
        const prices = serving.map((o) => o.outputPricePerMTok);
        return {
          modelId: String(m.model_id),
          name: m.name,
          owner: m.owner,
          royaltyBps: m.royalty_bps,
          licenceURI: m.licence_uri,
          providers: new Set(serving.map((o) => o.agentId.toString())).size,
          minOutputPricePerMTok: prices.length ? prices.reduce((a, b) => (a < b ? a : b)).toString() : null,
          maxOutputPricePerMTok: prices.length ? prices.reduce((a, b) => (a > b ? a : b)).toString() : null,
        };
      }),
    });
  });

  app.get("/api/events", (c) => {
    const limit = Math.min(500, Math.max(1, Number(c.req.query("limit") ?? 50) || 50));
    const rows = all(
      "SELECT block, log_index, tx_hash, timestamp, contract, name, args FROM events ORDER BY block DESC, log_index DESC LIMIT ?",
      limit,
    );
    return c.json({ data: rows.map((r) => ({ ...r, args: JSON.parse(String(r.args)) })) });
  });
}
