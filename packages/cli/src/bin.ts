#!/usr/bin/env node
import { Command } from "commander";
import { registerAgent } from "./commands/agent.ts";
import { registerBench } from "./commands/bench.ts";
import { registerCalibrate } from "./commands/calibrate.ts";
import { registerChain } from "./commands/chain.ts";
import { registerChannel } from "./commands/channel.ts";
import { registerContext } from "./commands/context.ts";
import { registerData } from "./commands/data.ts";
import { registerDeploy } from "./commands/deploy.ts";
import { registerDevnet } from "./commands/devnet.ts";
import { registerDrill } from "./commands/drill.ts";
import { registerGateway } from "./commands/gateway.ts";
import { registerKeys } from "./commands/keys.ts";
import { registerMandate } from "./commands/mandate.ts";
import { registerMcp } from "./commands/mcp.ts";
import { registerModel } from "./commands/model.ts";
import { registerOracle } from "./commands/oracle.ts";
import { registerProvider } from "./commands/provider.ts";
import { registerQuote } from "./commands/quote.ts";
import { registerValidator } from "./commands/validator.ts";
import { registerWallet } from "./commands/wallet.ts";
import { installConfig } from "./config-hook.ts";
import { reportError } from "./run-command.ts";

const program = new Command()
  .name("verity")
  .description("Verity — open, verifiable AI inference: staked providers, per-request vouchers, audited answers")
  .version("0.1.0")
  .showHelpAfterError("(add --help for usage)")
  .configureHelp({ showGlobalOptions: true })
  .addHelpText(
    "after",
    `
Roles and tasks:
  everything locally   verity devnet
  chain operators      verity chain · verity deploy
  providers            verity provider start · verity provider status
  gateways             verity gateway start
  validators           verity validator start · verity calibrate (audit thresholds, calibration.json)
  model owners         verity model register · verity model list · verity model credit-dataset
  data contributors    verity data register · verity data earnings
  clients              verity wallet new|balance|faucet · verity channel open|status|close · verity quote
                       verity keys create|list|revoke (gateway API keys)
                       verity context put|get|export (your encrypted, signed, portable context)
  agents               verity mandate sign|show (spend limits) · verity mcp (MCP tools over stdio/HTTP)
  developers           verity bench · verity drill

Every option can also come from a VERITY_* environment variable (--state-dir → VERITY_STATE_DIR) or
a JSON config file (--config <file>, or ./verity.config.json), in that order after the command line:
  { "rpc": "http://127.0.0.1:8545", "deployment": "deployment.json", "provider": { "start": { "port": 8601 } } }

Example:
  $ verity devnet
  $ verity <command> --help`,
  );

registerDevnet(program);
registerChain(program);
registerDeploy(program);
registerProvider(program);
registerAgent(program);
registerGateway(program);
registerKeys(program);
registerValidator(program);
registerOracle(program);
registerModel(program);
registerData(program);
registerWallet(program);
registerChannel(program);
registerMandate(program);
registerContext(program);
registerMcp(program);
registerQuote(program);
registerBench(program);
registerCalibrate(program);
registerDrill(program);

// After every command is registered: env and config-file values for all of them.
const config = installConfig(program);
try {
  await program.parseAsync(process.argv);
} catch (error) {
  reportError(config.jsonRequested(), error);
}
