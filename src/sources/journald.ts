import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

export interface JournaldOptions {
  /** journalctl matches, e.g. `_SYSTEMD_UNIT=asterisk.service`. */
  match: readonly string[];
  /**
   * Read the journal files in this directory (`journalctl -D`) instead of the system journal:
   * a journal copied from another host, or a container's.
   */
  directory?: string;
  /** Resume after this cursor (saved from the last run); without it, start at the end. */
  cursor?: string;
  /** An entry's lines in a layout the detectors read (RFC 3339 syslog), with its cursor. */
  onEntry(lines: string[], cursor: string): void;
  onExit?(code: number | null, stderr: string): void;
}

interface JournalEntry {
  __CURSOR?: string;
  __REALTIME_TIMESTAMP?: string;
  _HOSTNAME?: string;
  SYSLOG_IDENTIFIER?: string;
  _PID?: string;
  MESSAGE?: string | number[] | null;
}

/**
 * Follows the journal with `journalctl -f -o json` (argument array, no shell). Each entry is
 * turned into a syslog-style line, `<RFC 3339 time> <host> <identifier>[pid]: <message>`, so the
 * detectors read it like any other log line. A message that already carries Asterisk's own date
 * prefix (Asterisk run in the foreground) is passed as it is.
 */
export class JournaldSource {
  private child: ChildProcess | null = null;
  private stopped = false;

  constructor(private readonly options: JournaldOptions) {}

  start(): void {
    const args = ["-f", "-o", "json", "--no-pager"];
    // -f alone follows the last boot only: an empty directory would end journalctl, and a host
    // rebooting would go unread. --merge lifts that (and merges nothing more with -D).
    if (this.options.directory !== undefined) args.push("-D", this.options.directory, "--merge");
    // With -f, journalctl shows at most 10 entries before following, even after a cursor:
    // --no-tail reads everything written since.
    if (this.options.cursor) args.push(`--after-cursor=${this.options.cursor}`, "--no-tail");
    else args.push("-n", "0");
    args.push(...this.options.match);
    const child = spawn("journalctl", args, { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    createInterface({ input: child.stdout! }).on("line", (json) => {
      // Lines still buffered when stopped come after the saved cursor: they are read next run.
      if (this.stopped) return;
      const entry = entryToLines(json);
      if (entry) this.options.onEntry(entry.lines, entry.cursor);
    });
    child.on("error", (err) => this.options.onExit?.(null, err.message));
    child.on("exit", (code) => this.options.onExit?.(code, stderr.trim()));
  }

  stop(): void {
    this.stopped = true;
    this.child?.kill("SIGTERM");
    this.child = null;
  }
}

/**
 * One journal entry (JSON) as log lines; null for entries without a text message. A message
 * with line breaks becomes several lines, only the first with a prefix, just as a log file
 * would hold it, so the split guard sees a split record the same way.
 */
export function entryToLines(json: string): { lines: string[]; cursor: string } | null {
  let entry: JournalEntry;
  try {
    entry = JSON.parse(json) as JournalEntry;
  } catch {
    return null;
  }
  const raw = entry.MESSAGE;
  const message =
    typeof raw === "string" ? raw : Array.isArray(raw) ? Buffer.from(raw).toString("utf8") : null;
  if (message === null || !entry.__CURSOR) return null;
  const [first, ...rest] = message.replace(/\n$/, "").split("\n") as [string, ...string[]];
  if (first.startsWith("[")) return { lines: [first, ...rest], cursor: entry.__CURSOR };
  const micros = Number(entry.__REALTIME_TIMESTAMP ?? Date.now() * 1000);
  const time = new Date(Math.floor(micros / 1000)).toISOString().replace("Z", "+00:00");
  const ident = entry.SYSLOG_IDENTIFIER ?? "journal";
  const pid = entry._PID ? `[${entry._PID}]` : "";
  return {
    lines: [`${time} ${entry._HOSTNAME ?? "localhost"} ${ident}${pid}: ${first}`, ...rest],
    cursor: entry.__CURSOR,
  };
}
