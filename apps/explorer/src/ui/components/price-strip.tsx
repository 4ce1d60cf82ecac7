import type { Model } from "../api-types.ts";
import { useExplorer } from "../context.ts";
import { formatAmount } from "../format.ts";
import { href } from "../router.ts";

/** 1, 2, 2.5 or 5 × 10^k, the smallest not below `raw`. */
function niceStep(raw: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const f = raw / magnitude;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * magnitude;
}

const OUT = "#7c8cff";
const IN = "#3ddc97";

/**
 * Price distribution per model: on one shared axis (base units per 1M tokens), a dot per provider
 * offer for the output price and a ring for the input price, with the range between min and max.
 */
export function PriceStrip({ models }: { models: Model[] }) {
  const { token } = useExplorer();
  const priced = models.filter((m) => m.prices.length > 0);
  const all = priced.flatMap((m) =>
    m.prices.flatMap((p) => [Number(p.inputPricePerMTok), Number(p.outputPricePerMTok)]),
  );
  const unit = 10 ** token.decimals;
  const step = niceStep(Math.max(1, ...all) / unit / 4) * unit;
  const max = Math.ceil((Math.max(1, ...all) * 1.04) / step) * step;
  const x = (v: string) => `${(Number(v) / max) * 100}%`;
  const ticks = Array.from({ length: Math.round(max / step) + 1 }, (_, i) => i * step);
  return (
    <div className="prices">
      <div className="chart-legend">
        <span className="legend-item">
          <span className="legend-swatch" style={{ background: OUT }} />
          Output price
        </span>
        <span className="legend-item">
          <span className="legend-swatch ring" style={{ borderColor: IN }} />
          Input price
        </span>
        <span className="legend-item muted">{token.symbol} per 1M tokens</span>
      </div>
      {priced.map((m) => {
        const outs = m.prices.map((p) => Number(p.outputPricePerMTok));
        const lo = Math.min(...outs);
        const hi = Math.max(...outs);
        return (
          <div className="price-row" key={m.modelId}>
            <div className="price-model">
              <b>{m.name}</b>
              <small>
                {m.prices.length} offer{m.prices.length === 1 ? "" : "s"}
              </small>
            </div>
            <div className="price-track">
              <span className="price-range" style={{ left: x(String(lo)), width: `${((hi - lo) / max) * 100}%` }} />
              {m.prices.map((p) => (
                <a
                  key={`in-${p.agentId}`}
                  href={href.provider(p.agentId)}
                  className="price-dot in"
                  style={{ left: x(p.inputPricePerMTok), borderColor: IN }}
                  title={`#${p.agentId} input ${formatAmount(p.inputPricePerMTok, token.decimals)} ${token.symbol}/1M`}
                >
                  <span className="sr-only">provider {p.agentId} input price</span>
                </a>
              ))}
              {m.prices.map((p) => (
                <a
                  key={`out-${p.agentId}`}
                  href={href.provider(p.agentId)}
                  className="price-dot out"
                  style={{ left: x(p.outputPricePerMTok), background: OUT }}
                  title={`#${p.agentId} output ${formatAmount(p.outputPricePerMTok, token.decimals)} ${token.symbol}/1M`}
                >
                  <span className="sr-only">provider {p.agentId} output price</span>
                </a>
              ))}
            </div>
          </div>
        );
      })}
      <div className="price-axis">
        <div className="price-model" />
        <div className="price-ticks">
          {ticks.map((t) => (
            <span key={t} style={{ left: `${(t / max) * 100}%` }}>
              {formatAmount(BigInt(Math.round(t)), token.decimals)}
            </span>
          ))}
        </div>
      </div>
      <div className="price-offers">
        {priced
          .flatMap((m) => m.prices.map((p) => ({ ...p, model: m.name })))
          .sort((a, b) => Number(BigInt(a.outputPricePerMTok) - BigInt(b.outputPricePerMTok)))
          .slice(0, 8)
          .map((p) => (
            <a key={`${p.model}-${p.agentId}`} className="price-offer" href={href.provider(p.agentId)}>
              <span>
                <span className="agent-badge">#{p.agentId}</span>
                <span className="model">{p.model}</span>
              </span>
              <b>{formatAmount(p.outputPricePerMTok, token.decimals)}</b>
            </a>
          ))}
      </div>
    </div>
  );
}
