import { readFileSync } from "node:fs";
import { ConfigError } from "@verity/core";

/**
 * A keystore password: from `--password-file` (its first line), else the first of `envVars` that
 * is set, else asked on the terminal (twice with `confirm`). Never echoed, never printed.
 */
export async function readPassword(args: {
  passwordFile?: string | undefined;
  envVars: readonly string[];
  confirm?: boolean;
  /** Flags that also give the password, for the hint when none is available. */
  flagHint?: string;
}): Promise<string> {
  if (args.passwordFile) {
    let text: string;
    try {
      text = readFileSync(args.passwordFile, "utf8");
    } catch (cause) {
      throw new ConfigError(`Cannot read the password file ${args.passwordFile}`, {
        code: "invalid_parameter",
        hint: "Check the path and its permissions",
        cause,
      });
    }
    const password = text.split(/\r?\n/, 1)[0] ?? "";
    if (password === "") {
      throw new ConfigError(`The password file ${args.passwordFile} is empty`, {
        code: "invalid_parameter",
        hint: "Put the password on its first line",
      });
    }
    return password;
  }
  for (const name of args.envVars) {
    const value = process.env[name];
    if (value !== undefined && value !== "") return value;
  }
  if (process.stdin.isTTY && process.stderr.isTTY) {
    const password = await promptHidden("Keystore password: ");
    if (password === "") throw new ConfigError("The password is empty", { code: "invalid_parameter" });
    if (args.confirm && (await promptHidden("Repeat the password: ")) !== password) {
      throw new ConfigError("The passwords differ", {
        code: "invalid_parameter",
        hint: "Type the same password twice",
      });
    }
    return password;
  }
  throw new ConfigError("No keystore password given", {
    code: "invalid_parameter",
    hint: `${args.flagHint ? `Pass ${args.flagHint}, set ` : "Set "}${args.envVars.join(" or ")}, or run in a terminal to be asked`,
  });
}

/** Keystrokes typed ahead of the current prompt (e.g. both passwords pasted at once). */
let typedAhead = "";

/** Reads a line from the terminal without echoing it (raw mode; Ctrl-C cancels). */
function promptHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  const output = process.stderr;
  return new Promise((resolve, reject) => {
    let value = "";
    const finish = (rest: string, error?: Error) => {
      typedAhead = rest;
      input.off("data", onData);
      input.setRawMode(false);
      input.pause();
      output.write("\n");
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (let i = 0; i < chunk.length; i++) {
        const ch = chunk[i] as string;
        if (ch === "\r" || ch === "\n" || ch === "\u0004") {
          const rest = chunk.slice(i + 1);
          return finish(ch === "\r" && rest.startsWith("\n") ? rest.slice(1) : rest);
        }
        if (ch === "\u0003") return finish("", new ConfigError("Cancelled", { code: "invalid_parameter" }));
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else value += ch;
      }
    };
    output.write(prompt);
    input.setEncoding("utf8");
    input.setRawMode(true);
    input.on("data", onData);
    input.resume();
    if (typedAhead !== "") {
      const ahead = typedAhead;
      typedAhead = "";
      onData(ahead);
    }
  });
}
