#!/usr/bin/env node
import { Command } from "commander";
import { registerDeploy } from "./commands/deploy.ts";
import { registerDevnet } from "./commands/devnet.ts";
import { registerGateway } from "./commands/gateway.ts";
import { registerProvider } from "./commands/provider.ts";

const program = new Command()
  .name("verity")
  .description("Verity — open, verifiable AI inference: staked providers, per-request vouchers, audited answers")
  .version("0.1.0")
  .showHelpAfterError("(add --help for usage)");

registerDevnet(program);
registerDeploy(program);
registerProvider(program);
registerGateway(program);

await program.parseAsync(process.argv);
