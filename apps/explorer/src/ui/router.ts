import { useEffect, useState } from "react";

export type Route =
  | { page: "overview" }
  | { page: "providers" }
  | { page: "provider"; agentId: string }
  | { page: "models" }
  | { page: "activity" }
  | { page: "disputes" }
  | { page: "oracle"; before?: string }
  | { page: "tx"; hash: string }
  | { page: "missing"; path: string };

/** Client-side routes live in the hash (`#/providers/7`), so any static host serves every page. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "").replace(/\/+$/, "") || "/";
  const parts = path.split("/").filter(Boolean);
  if (parts.length === 0) return { page: "overview" };
  const [first, second] = parts;
  if (first === "providers" && second === undefined) return { page: "providers" };
  if (first === "providers" && second !== undefined && /^\d+$/.test(second) && parts.length === 2) {
    return { page: "provider", agentId: second };
  }
  if (first === "models" && parts.length === 1) return { page: "models" };
  if (first === "activity" && parts.length === 1) return { page: "activity" };
  if (first === "disputes" && parts.length === 1) return { page: "disputes" };
  if (first === "oracle" && parts.length === 1) return { page: "oracle" };
  if (first === "oracle" && second !== undefined && /^\d+$/.test(second) && parts.length === 2) {
    return { page: "oracle", before: second };
  }
  if (first === "tx" && second !== undefined && /^0x[0-9a-fA-F]{64}$/.test(second)) {
    return { page: "tx", hash: second.toLowerCase() };
  }
  return { page: "missing", path };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => {
      setRoute(parseRoute(window.location.hash));
      window.scrollTo(0, 0);
    };
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

export const href = {
  overview: "#/",
  providers: "#/providers",
  provider: (agentId: string) => `#/providers/${agentId}`,
  models: "#/models",
  activity: "#/activity",
  disputes: "#/disputes",
  /** Oracle requests, newest first; `before` pages back to ids below it. */
  oracle: (before?: string) => (before ? `#/oracle/${before}` : "#/oracle"),
  tx: (hash: string) => `#/tx/${hash}`,
};
