import { createContext, useContext } from "react";
import type { Config } from "./api-types.ts";

export type ExplorerContext = {
  config: Config | undefined;
  token: { symbol: string; decimals: number };
  /** Chain time (unix s) of the latest snapshot, for "… ago". */
  chainNow: number;
};

export const Explorer = createContext<ExplorerContext>({
  config: undefined,
  token: { symbol: "TUSD", decimals: 6 },
  chainNow: Math.floor(Date.now() / 1000),
});

export const useExplorer = (): ExplorerContext => useContext(Explorer);
