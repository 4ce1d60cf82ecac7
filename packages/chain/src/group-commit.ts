import { closeSync, fdatasync, openSync } from "node:fs";
import type { DatabaseSync } from "node:sqlite";

export type GroupCommit = {
  /**
   * Resolves once everything committed before the call is on stable storage: an fdatasync of the
   * WAL that started after the call has finished. Calls that arrive while one is running share the
   * next one, so N commits in the same moment cost one disk flush.
   */
  durable(): Promise<void>;
  /** fdatasync calls made so far (each one covered every commit before it started). */
  readonly flushes: number;
  close(): void;
};

/**
 * Group commit for a SQLite database in WAL mode opened with `synchronous=NORMAL`
 * (`openDatabase(path, { synchronous: "NORMAL" })`). A commit there is written to the WAL — in the
 * OS page cache, so `kill -9` of the process loses nothing — without waiting for the disk; the
 * caller acknowledges only after `durable()`, which flushes the WAL file (fdatasync on libuv's
 * thread pool, off the event loop). That keeps power-loss durability for every acknowledged write
 * while the event loop never blocks on the disk and concurrent writers share one flush.
 *
 * Why fdatasync of our own descriptor is enough: on Linux a flush is per file, not per descriptor;
 * SQLite itself syncs the WAL before each checkpoint copies it into the database and the database
 * after, so a write that a checkpoint moved out of the WAL is already durable when the WAL restarts.
 */
export function createGroupCommit(options: {
  db: DatabaseSync;
  /** The database file (its WAL is `<path>-wal`); `:memory:` makes `durable()` a no-op. */
  path: string;
}): GroupCommit {
  const memory = options.path === ":memory:";
  let fd: number | undefined;
  let running = false;
  let waiting: { resolve: () => void; reject: (error: Error) => void }[] = [];
  let flushes = 0;

  function descriptor(): number {
    // The WAL exists from the first write after `journal_mode = WAL`; it keeps its inode while a
    // connection is open (SQLite deletes it only when the last connection closes).
    fd ??= openSync(`${options.path}-wal`, "r");
    return fd;
  }

  function flush(): void {
    const batch = waiting;
    waiting = [];
    running = true;
    flushes++;
    let target: number;
    try {
      target = descriptor();
    } catch (error) {
      running = false;
      for (const w of batch) w.reject(error as Error);
      return;
    }
    fdatasync(target, (error) => {
      running = false;
      for (const w of batch) {
        if (error) w.reject(error);
        else w.resolve();
      }
      if (waiting.length > 0) flush();
    });
  }

  return {
    durable(): Promise<void> {
      if (memory) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiting.push({ resolve, reject });
        if (!running) flush();
      });
    },
    get flushes() {
      return flushes;
    },
    close(): void {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
