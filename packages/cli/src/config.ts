/**
 * Where a command's option values come from, highest first: the command line, `VERITY_*`
 * environment variables (`--state-dir` ↔ `VERITY_STATE_DIR`), a JSON config file (`--config <file>`,
 * else `VERITY_CONFIG`, else `./verity.config.json` when present), then the option's default.
 *
 * A config file holds option values under their camelCase names, shared by every command, plus
 * optional sections named after commands that override them for that command only:
 *
 *   { "rpc": "http://127.0.0.1:8545", "deployment": "deployment.json",
 *     "provider": { "start": { "port": 8601, "model": ["test:verity-tiny"] } } }
 *
 * Everything here is pure (no commander, no process state) so precedence can be tested directly.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError } from "@verity/core";
import { z } from "zod";

export const DEFAULT_CONFIG_FILE = "verity.config.json";

export type ConfigScalar = string | number | boolean;
export type ConfigValue = ConfigScalar | ConfigScalar[];
export type ConfigSection = { [key: string]: ConfigValue | ConfigSection };

const scalarSchema = z.union([z.string(), z.number(), z.boolean()]);
const sectionSchema: z.ZodType<ConfigSection> = z.lazy(() =>
  z.record(z.string(), z.union([scalarSchema, z.array(scalarSchema), sectionSchema])),
);

/** How an option takes its value (the parts of a commander Option the resolution needs). */
export type OptionSpec = {
  /** camelCase key, e.g. `stateDir`. */
  name: string;
  /** `--state-dir`, for messages. */
  flag: string;
  /** true for flags without a value (`--json`, `--no-x402`). */
  boolean: boolean;
  /** Repeatable or variadic: a config array gives several values. */
  multiple: boolean;
  /** commander's argParser, called like commander calls it: (value, previous). */
  parse?: (value: string, previous: unknown) => unknown;
};

/** Where a value came from, in commander's vocabulary. */
export type ValueSource = "cli" | "env" | "config" | "default" | "implied" | undefined;

/** The commands and options a config file may name (built from the program). */
export type CommandTree = { options: readonly string[]; commands: Readonly<Record<string, CommandTree>> };

/** `stateDir` → `VERITY_STATE_DIR`. */
export function envVarName(name: string): string {
  return `VERITY_${name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}`;
}

/** Reads and validates a config file; `undefined` when no file was named and the default one is absent. */
export function loadConfigFile(args: { path?: string | undefined; cwd: string }): ConfigSection | undefined {
  const named = args.path !== undefined && args.path !== "";
  const path = resolve(args.cwd, named ? (args.path as string) : DEFAULT_CONFIG_FILE);
  if (!existsSync(path)) {
    if (!named) return undefined;
    throw new ConfigError(`No config file at ${path}`, {
      code: "invalid_parameter",
      hint: "Check --config (or VERITY_CONFIG), or drop it to use ./verity.config.json",
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new ConfigError(`The config file ${path} is not valid JSON`, {
      code: "invalid_parameter",
      hint: "Fix the JSON syntax (keys in double quotes, no trailing commas)",
      cause,
    });
  }
  const parsed = sectionSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`The config file ${path}: ${issue?.path.join(".") || "(top)"} ${issue?.message}`, {
      code: "invalid_parameter",
      hint: "Values are strings, numbers, booleans or arrays of them; sections are objects named after commands",
    });
  }
  return parsed.data;
}

/** Refuses keys that are neither an option of some command nor a command section, so typos are not ignored. */
export function validateConfigKeys(args: { config: ConfigSection; tree: CommandTree; file: string }): void {
  const allOptions = new Set<string>();
  const collect = (t: CommandTree) => {
    for (const o of t.options) allOptions.add(o);
    for (const sub of Object.values(t.commands)) collect(sub);
  };
  collect(args.tree);
  const walk = (section: ConfigSection, tree: CommandTree, path: string[]) => {
    for (const [key, value] of Object.entries(section)) {
      const where = [...path, key].join(".");
      if (isSection(value)) {
        const sub = tree.commands[key];
        if (!sub) {
          throw new ConfigError(`${args.file}: section "${where}" is not a command`, {
            code: "invalid_parameter",
            hint: `Sections are command names: ${Object.keys(tree.commands).join(", ") || "(none here)"}`,
          });
        }
        walk(value, sub, [...path, key]);
      } else if (!allOptions.has(key)) {
        throw new ConfigError(`${args.file}: "${where}" is not an option of any command`, {
          code: "invalid_parameter",
          hint: "Keys are option names in camelCase, e.g. rpc, deployment, stateDir, port",
        });
      }
    }
  };
  walk(args.config, args.tree, []);
}

/** The config values that apply to the command at `path` (e.g. `["provider", "start"]`); inner sections win. */
export function configValuesFor(
  config: ConfigSection | undefined,
  path: readonly string[],
): Record<string, ConfigValue> {
  const out: Record<string, ConfigValue> = {};
  let section: ConfigSection | undefined = config;
  for (let depth = 0; section !== undefined; depth++) {
    for (const [key, value] of Object.entries(section)) if (!isSection(value)) out[key] = value;
    const name = path[depth];
    const next: ConfigValue | ConfigSection | undefined = name === undefined ? undefined : section[name];
    section = next !== undefined && isSection(next) ? next : undefined;
  }
  return out;
}

/**
 * The value an option takes when the command line did not set it: from the environment, else the
 * config file; `undefined` leaves the current (default) value. Throws a ConfigError naming the
 * source when a value does not fit the option.
 */
export function resolveOptionValue(args: {
  option: OptionSpec;
  source: ValueSource;
  current: unknown;
  env: Readonly<Record<string, string | undefined>>;
  config: Readonly<Record<string, ConfigValue>>;
}): { value: unknown; source: "env" | "config" } | undefined {
  const { option } = args;
  if (args.source === "cli" || args.source === "env") return undefined;
  const variable = envVarName(option.name);
  const fromEnv = args.env[variable];
  if (fromEnv !== undefined && fromEnv !== "") {
    return { value: coerce(option, [fromEnv], args.current, `${variable}`), source: "env" };
  }
  const fromConfig = args.config[option.name];
  if (fromConfig === undefined) return undefined;
  const items = Array.isArray(fromConfig) ? fromConfig : [fromConfig];
  if (Array.isArray(fromConfig) && !option.multiple) {
    throw new ConfigError(`Config key "${option.name}" takes one value, not a list`, {
      code: "invalid_parameter",
      hint: `Give ${option.flag} a single value in the config file`,
    });
  }
  return { value: coerce(option, items, args.current, `config key "${option.name}"`), source: "config" };
}

function coerce(option: OptionSpec, items: readonly ConfigScalar[], current: unknown, from: string): unknown {
  if (option.boolean) {
    const item = items[0];
    const value = typeof item === "boolean" ? item : parseBoolean(String(item));
    if (value === undefined || items.length !== 1) {
      throw new ConfigError(`${from} must be true or false for ${option.flag}, got ${JSON.stringify(item)}`, {
        code: "invalid_parameter",
        hint: "Use true/false (or 1/0)",
      });
    }
    return value;
  }
  const strings = items.map((v) => {
    if (typeof v === "boolean") {
      throw new ConfigError(`${from} must be a value for ${option.flag}, not ${v}`, { code: "invalid_parameter" });
    }
    return String(v);
  });
  if (option.parse) {
    let value = option.multiple ? current : undefined;
    for (const s of strings) {
      try {
        value = option.parse(s, option.multiple ? value : current);
      } catch (cause) {
        throw new ConfigError(`${from} is not valid for ${option.flag}: ${(cause as Error).message ?? cause}`, {
          code: "invalid_parameter",
          cause,
        });
      }
    }
    return value;
  }
  return option.multiple ? strings : strings[0];
}

function parseBoolean(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  return undefined;
}

function isSection(value: ConfigValue | ConfigSection | undefined): value is ConfigSection {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
