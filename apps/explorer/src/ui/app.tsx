import { useMemo } from "react";
import { useConfig, useLiveOverview } from "./api.ts";
import { EmptyState, Panel } from "./components/panel.tsx";
import { Explorer, type ExplorerContext } from "./context.ts";
import { formatNumber } from "./format.ts";
import { ActivityPage } from "./pages/activity-page.tsx";
import { DisputesPage } from "./pages/disputes-page.tsx";
import { ModelsPage } from "./pages/models-page.tsx";
import { OraclePage } from "./pages/oracle-page.tsx";
import { OverviewPage } from "./pages/overview-page.tsx";
import { ProviderPage } from "./pages/provider-page.tsx";
import { ProvidersPage } from "./pages/providers-page.tsx";
import { TxPage } from "./pages/tx-page.tsx";
import { href, type Route, useRoute } from "./router.ts";

const NAV: { label: string; href: string; pages: Route["page"][] }[] = [
  { label: "Overview", href: href.overview, pages: ["overview"] },
  { label: "Providers", href: href.providers, pages: ["providers", "provider"] },
  { label: "Models", href: href.models, pages: ["models"] },
  { label: "Activity", href: href.activity, pages: ["activity", "tx"] },
  { label: "Oracle", href: href.oracle(), pages: ["oracle"] },
  { label: "Disputes", href: href.disputes, pages: ["disputes"] },
];

function Logo() {
  return (
    <svg width="26" height="26" viewBox="0 0 32 32" aria-hidden="true">
      <defs>
        <linearGradient id="logo-g" x1="0" y1="0" x2="1" y2="1">
          <stop offset="0" stopColor="#3ddc97" />
          <stop offset="1" stopColor="#7c8cff" />
        </linearGradient>
      </defs>
      <rect width="32" height="32" rx="8" fill="#161b26" />
      <path
        d="M8 9l8 15 8-15"
        fill="none"
        stroke="url(#logo-g)"
        strokeWidth="3.2"
        strokeLinecap="round"
        strokeLinejoin="round"
      />
    </svg>
  );
}

export function App() {
  const route = useRoute();
  const live = useLiveOverview();
  const config = useConfig();
  const context = useMemo<ExplorerContext>(
    () => ({
      config,
      token: config?.token ?? { symbol: "TUSD", decimals: 6 },
      chainNow: live.overview?.network.chainNow ?? Math.floor(Date.now() / 1000),
    }),
    [config, live.overview?.network.chainNow],
  );
  const overview = live.overview;
  return (
    <Explorer.Provider value={context}>
      <header className="topbar">
        <div className="topbar-inner">
          <a className="brand" href={href.overview}>
            <Logo />
            <span>
              Verity <em>Explorer</em>
            </span>
          </a>
          <nav className="nav">
            {NAV.map((n) => (
              <a key={n.label} href={n.href} className={n.pages.includes(route.page) ? "active" : ""}>
                {n.label}
              </a>
            ))}
          </nav>
          <div className={`live-badge ${live.mode}`} title={live.error ?? ""}>
            <span className="dot" />
            {live.mode === "stream" || live.mode === "polling"
              ? "Live"
              : live.mode === "offline"
                ? "Offline"
                : "Connecting"}
            {overview && <span className="muted">block {formatNumber(Number(overview.network.indexedBlock))}</span>}
            {config && <span className="muted">chain {config.chainId}</span>}
          </div>
        </div>
      </header>
      <main className="page">
        {!overview ? (
          <Panel>
            {live.mode === "offline" ? (
              <EmptyState title="The gateway's data API does not answer">
                {live.error}. The explorer reads <code>/api/overview</code> from the gateway that serves it; start one
                with <code>npm start</code> (devnet) or <code>verity gateway start</code>.
              </EmptyState>
            ) : (
              <div className="loading">Loading the network…</div>
            )}
          </Panel>
        ) : route.page === "overview" ? (
          <OverviewPage overview={overview} />
        ) : route.page === "providers" ? (
          <ProvidersPage overview={overview} />
        ) : route.page === "provider" ? (
          <ProviderPage agentId={route.agentId} overview={overview} />
        ) : route.page === "models" ? (
          <ModelsPage overview={overview} />
        ) : route.page === "activity" ? (
          <ActivityPage overview={overview} />
        ) : route.page === "disputes" ? (
          <DisputesPage overview={overview} />
        ) : route.page === "oracle" ? (
          <OraclePage overview={overview} {...(route.before ? { before: route.before } : {})} />
        ) : route.page === "tx" ? (
          <TxPage hash={route.hash} />
        ) : (
          <Panel>
            <EmptyState title="No such page">
              <a href={href.overview}>Back to the overview</a>
            </EmptyState>
          </Panel>
        )}
      </main>
      <footer className="footer">
        <span>Verity — open, verifiable inference</span>
        {config && (
          <span className="muted">
            {config.token.symbol} <span className="mono">{config.token.address}</span>
          </span>
        )}
        <a href="/api/overview" className="muted">
          data API
        </a>
      </footer>
    </Explorer.Provider>
  );
}
