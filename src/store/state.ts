import { createRequire } from "node:module";
import { dirname } from "node:path";
import type Database from "better-sqlite3";
import { MAX_DURATION_MS } from "../policy/policy.js";
import { ensureDirectory } from "../util/ensure-directory.js";

/** One ban as sipban remembers it. Times are epoch milliseconds; `until` 0 means no end. */
export interface BanRecord {
  ip: string;
  since: number;
  until: number;
  reason: string;
  /** Who decided it: "policy", "manual", "honeypot", or another host's name in a fleet. */
  origin: string;
  /** What the address did (counts, reasons, users tried, a sample line). */
  evidence?: unknown;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS bans (
  ip TEXT PRIMARY KEY,
  since INTEGER NOT NULL,
  until INTEGER NOT NULL,
  reason TEXT NOT NULL,
  origin TEXT NOT NULL,
  evidence TEXT
);
CREATE TABLE IF NOT EXISTS history (
  ip TEXT NOT NULL,
  since INTEGER NOT NULL,
  until INTEGER NOT NULL,
  reason TEXT NOT NULL,
  origin TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_ip ON history (ip);
CREATE INDEX IF NOT EXISTS bans_until ON bans (until);
CREATE TABLE IF NOT EXISTS positions (
  source TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

/**
 * The state database at `path`, in WAL mode with the schema in place. What goes wrong names the
 * file: SQLite finds a file that is not a database only at its first statement.
 */
function openDatabase(path: string): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new (openDriver())(path);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 5000");
    db.exec(SCHEMA);
    return db;
  } catch (err) {
    db?.close();
    throw new Error(`cannot open the state database ${path}: ${(err as Error).message}`);
  }
}

/**
 * sipban's state in SQLite (WAL): active bans, every ban ever made (for escalation), and how far
 * each source has been read. A ban is committed here before anyone is told it exists, so a crash
 * never loses an announced ban. Bans carry absolute times and their origin, so they can be shared
 * between hosts as they are.
 */
export class StateStore {
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(path: string) {
    if (path !== ":memory:") ensureDirectory(dirname(path), 0o750, "the state database");
    this.db = openDatabase(path);
    this.stmts = {
      get: this.db.prepare("SELECT * FROM bans WHERE ip = ?"),
      active: this.db.prepare("SELECT * FROM bans WHERE until = 0 OR until > ? ORDER BY since"),
      activeEnds: this.db.prepare("SELECT ip, since, until FROM bans WHERE until = 0 OR until > ?"),
      activeCount: this.db.prepare("SELECT count(*) AS n FROM bans WHERE until = 0 OR until > ?"),
      upsert: this.db.prepare(
        "INSERT OR REPLACE INTO bans (ip, since, until, reason, origin, evidence) VALUES (@ip, @since, @until, @reason, @origin, @evidence)",
      ),
      history: this.db.prepare(
        "INSERT INTO history (ip, since, until, reason, origin) VALUES (@ip, @since, @until, @reason, @origin)",
      ),
      remove: this.db.prepare("DELETE FROM bans WHERE ip = ?"),
      expired: this.db.prepare("SELECT ip FROM bans WHERE until != 0 AND until <= ?"),
      removeExpired: this.db.prepare("DELETE FROM bans WHERE until != 0 AND until <= ?"),
      nextExpiry: this.db.prepare("SELECT min(until) AS until FROM bans WHERE until != 0"),
      offences: this.db.prepare("SELECT count(*) AS n FROM history WHERE ip = ? AND since < ?"),
      recorded: this.db.prepare("SELECT 1 FROM history WHERE ip = ? AND since = ? AND origin = ? LIMIT 1"),
      getPosition: this.db.prepare("SELECT value FROM positions WHERE source = ?"),
      setPosition: this.db.prepare("INSERT OR REPLACE INTO positions (source, value) VALUES (?, ?)"),
    };
  }

  /** The ban on `ip` if one is active at `now`. */
  activeBan(ip: string, now: number): BanRecord | undefined {
    const row = this.stmts.get.get(ip) as Row | undefined;
    if (!row || (row.until !== 0 && row.until <= now)) return undefined;
    return fromRow(row);
  }

  activeBans(now: number): BanRecord[] {
    return (this.stmts.active.all(now) as Row[]).map(fromRow);
  }

  /**
   * The active bans' addresses and ends only: what the kernel must hold. Skips reading each
   * ban's evidence, which the periodic reconcile of 100k bans would otherwise parse every time.
   */
  activeBanEnds(now: number): Array<{ ip: string; until: number }> {
    const rows = this.stmts.activeEnds.all(now) as Array<{ ip: string; since: number; until: number }>;
    return rows.map((r) => ({ ip: r.ip, until: saneEnd(r.since, r.until) }));
  }

  countActiveBans(now: number): number {
    return (this.stmts.activeCount.get(now) as { n: number }).n;
  }

  /** Records bans (and their history) in one transaction. */
  addBans(bans: readonly BanRecord[]): void {
    this.db.transaction(() => {
      for (const b of bans) {
        const row = { ...b, evidence: b.evidence === undefined ? null : JSON.stringify(b.evidence) };
        this.stmts.upsert.run(row);
        this.stmts.history.run(row);
      }
    })();
  }

  /** True when a ban of `ip` that started at `since`, from `origin`, was recorded before (active or not). */
  wasRecorded(ip: string, since: number, origin: string): boolean {
    return this.stmts.recorded.get(ip, since, origin) !== undefined;
  }

  /** Ends a ban early; history stays (escalation remembers it). Returns whether one existed. */
  removeBan(ip: string): boolean {
    return this.stmts.remove.run(ip).changes > 0;
  }

  /** Drops bans that ended by `now`; returns their addresses. */
  expire(now: number): string[] {
    return this.db.transaction(() => {
      const ips = (this.stmts.expired.all(now) as Array<{ ip: string }>).map((r) => r.ip);
      this.stmts.removeExpired.run(now);
      return ips;
    })();
  }

  /** When the next ban ends (epoch ms), or null when none has an end. */
  nextExpiry(): number | null {
    return (this.stmts.nextExpiry.get() as { until: number | null }).until;
  }

  /** How many bans `ip` has had that started before `before` (by default: ever). */
  offences(ip: string, before = Number.MAX_SAFE_INTEGER): number {
    return (this.stmts.offences.get(ip, before) as { n: number }).n;
  }

  position(source: string): string | undefined {
    return (this.stmts.getPosition.get(source) as { value: string } | undefined)?.value;
  }

  setPosition(source: string, value: string): void {
    this.stmts.setPosition.run(source, value);
  }

  close(): void {
    this.db.close();
  }
}

interface Row {
  ip: string;
  since: number;
  until: number;
  reason: string;
  origin: string;
  evidence: string | null;
}

function fromRow(row: Row): BanRecord {
  return {
    ip: row.ip,
    since: row.since,
    until: saneEnd(row.since, row.until),
    reason: row.reason,
    origin: row.origin,
    evidence: row.evidence === null ? undefined : JSON.parse(row.evidence),
  };
}

/**
 * A recorded ban's end, at most the longest duration after its start: an older version recorded
 * any length, and an end past what a date can hold broke every command that shows or applies it.
 */
function saneEnd(since: number, until: number): number {
  return until === 0 ? 0 : Math.min(until, since + MAX_DURATION_MS);
}

// The native SQLite driver is loaded on first use: `scan` without --ban never opens a store.
let driver: typeof Database | undefined;
function openDriver(): typeof Database {
  driver ??= createRequire(import.meta.url)("better-sqlite3") as typeof Database;
  return driver;
}
