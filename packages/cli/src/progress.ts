/**
 * Readable progress for long steps: one line per step with its duration, on stderr so stdout stays
 * clean for `--json`. A spinner is drawn only when stderr is a TTY.
 */
export type Progress = {
  step<T>(label: string, fn: () => Promise<T>): Promise<T>;
  info(line: string): void;
};

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export function createProgress(options: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const write = (text: string) => {
    if (!options.quiet) stream.write(text);
  };
  return {
    async step(label, fn) {
      const started = performance.now();
      let frame = 0;
      const timer =
        tty && !options.quiet
          ? setInterval(() => write(`\r${FRAMES[frame++ % FRAMES.length]} ${label}…`), 80)
          : undefined;
      try {
        const result = await fn();
        if (timer) clearInterval(timer);
        write(`${tty ? "\r\x1b[2K" : ""}✔ ${label} (${formatMs(performance.now() - started)})\n`);
        return result;
      } catch (error) {
        if (timer) clearInterval(timer);
        write(`${tty ? "\r\x1b[2K" : ""}✖ ${label} (${formatMs(performance.now() - started)})\n`);
        throw error;
      }
    },
    info(line) {
      write(`${line}\n`);
    },
  };
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
