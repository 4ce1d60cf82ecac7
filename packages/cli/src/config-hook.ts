/**
 * Applies `config.ts` to every command of the program, once, through a commander `preAction` hook:
 * each option of the command about to run that was not given on the command line is filled from
 * its `VERITY_*` environment variable, else from the config file. Options declared mandatory are
 * checked after that (commander would check them before the hook), so a mandatory `--rpc` may come
 * from `VERITY_RPC` or the config file, and a missing one says every way to give it.
 */
import { ConfigError } from "@verity/core";
import type { Command, Option } from "commander";
import {
  type CommandTree,
  type ConfigSection,
  configValuesFor,
  envVarName,
  loadConfigFile,
  type OptionSpec,
  resolveOptionValue,
  type ValueSource,
  validateConfigKeys,
} from "./config.ts";

// `key` is never filled from VERITY_KEY or the config file: a value in the option means it was typed
// on the command line, which read-key.ts refuses (`key_in_argv`); VERITY_KEY is read there directly.
const SKIPPED = new Set(["help", "version", "config", "key", "apiKey"]);

/**
 * Call after every command is registered and before parsing. `jsonRequested()` tells whether the
 * command that ran (or failed in the hook) asked for `--json`, for reporting errors the hook throws.
 */
export function installConfig(program: Command): { jsonRequested(): boolean } {
  program.option("--config <file>", "JSON config file (default ./verity.config.json when present; or VERITY_CONFIG)");
  const mandatory = new WeakSet<Option>();
  for (const command of allCommands(program)) {
    for (const option of command.options) {
      if (option.mandatory) {
        mandatory.add(option);
        option.makeOptionMandatory(false);
      }
    }
  }
  let loaded: { config: ConfigSection | undefined } | undefined;
  let running: Command | undefined;
  program.hook("preAction", (_root, action) => {
    running = action;
    if (!loaded) {
      const file = (program.opts().config as string | undefined) ?? process.env.VERITY_CONFIG;
      const config = loadConfigFile({ path: file, cwd: process.cwd() });
      if (config) validateConfigKeys({ config, tree: treeOf(program), file: file ?? "verity.config.json" });
      loaded = { config };
    }
    const values = configValuesFor(loaded.config, commandPath(action));
    for (const option of action.options) {
      const name = option.attributeName();
      if (SKIPPED.has(name)) continue;
      const resolved = resolveOptionValue({
        option: specOf(option),
        source: action.getOptionValueSource(name) as ValueSource,
        current: action.getOptionValue(name),
        env: process.env,
        config: values,
      });
      if (resolved) action.setOptionValueWithSource(name, resolved.value, resolved.source);
    }
    for (const option of action.options) {
      if (!mandatory.has(option) || action.getOptionValue(option.attributeName()) !== undefined) continue;
      const name = option.attributeName();
      throw new ConfigError(`${option.long ?? option.flags} is required`, {
        code: "invalid_parameter",
        hint: `Pass ${option.flags}, set ${envVarName(name)}, or put "${name}" in verity.config.json`,
      });
    }
  });
  return {
    jsonRequested: () => running?.opts().json === true || (running === undefined && process.argv.includes("--json")),
  };
}

function specOf(option: Option): OptionSpec {
  const parse = option.parseArg;
  return {
    name: option.attributeName(),
    flag: option.long ?? option.flags,
    boolean: option.isBoolean(),
    multiple: option.variadic || Array.isArray(option.defaultValue),
    ...(parse ? { parse: (value: string, previous: unknown) => parse(value, previous) } : {}),
  };
}

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

/** `verity provider start` → `["provider", "start"]`. */
function commandPath(command: Command): string[] {
  const path: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) path.unshift(c.name());
  return path;
}

function treeOf(command: Command): CommandTree {
  return {
    options: command.options.map((o) => o.attributeName()).filter((n) => !SKIPPED.has(n)),
    commands: Object.fromEntries(command.commands.map((c) => [c.name(), treeOf(c)])),
  };
}
