import { useExplorer } from "../context.ts";
import { shortHex } from "../format.ts";
import { href } from "../router.ts";

/** A transaction hash linked to the configured block explorer, or else to the page's own tx view. */
export function TxLink({ hash, full = false }: { hash: string; full?: boolean }) {
  const { config } = useExplorer();
  const text = full ? hash : shortHex(hash, 8, 6);
  if (config?.blockExplorerUrl) {
    return (
      <a
        className="mono link"
        href={`${config.blockExplorerUrl.replace(/\/+$/, "")}/tx/${hash}`}
        target="_blank"
        rel="noreferrer"
        title={hash}
      >
        {text}
      </a>
    );
  }
  return (
    <a className="mono link" href={href.tx(hash)} title={hash}>
      {text}
    </a>
  );
}

/** A provider (agent id) linked to its page. */
export function AgentLink({ agentId }: { agentId: string }) {
  return (
    <a className="agent-link" href={href.provider(agentId)}>
      <span className="agent-badge">#{agentId}</span>
    </a>
  );
}

/** An address, shortened, full on hover (and selectable). */
export function Addr({ address }: { address: string | null | undefined }) {
  return (
    <span className="mono addr" title={address ?? ""}>
      {shortHex(address)}
    </span>
  );
}
