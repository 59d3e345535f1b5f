import assert from "node:assert/strict";
import {
  appendFileSync,
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  renameSync,
  rmdirSync,
  rmSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  FileFollower,
  type FollowEvent,
  type FollowerOptions,
  type FollowPosition,
} from "../src/sources/file-follower.js";
import { waitFor } from "./helpers/wait.js";

const numbered = (i: number): string => `line ${String(i).padStart(4, "0")}`;
const range = (from: number, to: number): string[] =>
  Array.from({ length: to - from + 1 }, (_, k) => numbered(from + k));
const text = (lines: string[]): string => lines.map((l) => l + "\n").join("");

interface Seen {
  lines: string[];
  events: FollowEvent[];
  errors: Error[];
  positions: FollowPosition[];
  calls: number;
}

let dir = "";
let log = "";
let running: FileFollower[] = [];

function follow(start: FollowerOptions["start"], extra: Partial<FollowerOptions> = {}): [FileFollower, Seen] {
  const seen: Seen = { lines: [], events: [], errors: [], positions: [], calls: 0 };
  const f = new FileFollower({
    path: log,
    start,
    onData(buf, end) {
      seen.calls++;
      assert.equal(buf[end - 1], 0x0a, "onData must end on a newline");
      const lines = buf.toString("utf8", 0, end - 1).split("\n");
      seen.lines.push(...lines);
    },
    onPosition: (pos) => seen.positions.push(pos),
    onEvent: (kind) => seen.events.push(kind),
    onError: (err) => seen.errors.push(err),
    ...extra,
  });
  running.push(f);
  return [f, seen];
}

async function waitLines(seen: Seen, n: number): Promise<void> {
  await waitFor(
    () => `${n} lines; have ${seen.lines.length} (last ${seen.lines.at(-1)}), events ${seen.events}`,
    () => seen.lines.length >= n,
  );
}

async function waitEvent(seen: Seen, kind: FollowEvent): Promise<void> {
  await waitFor(
    () => `event ${kind}; have ${seen.events}`,
    () => seen.events.includes(kind),
  );
}

/**
 * Counts the reads and stats of every open file until `restore()`: FileHandle's methods live on
 * one shared prototype, reached through `sample`, a file opened once for that.
 */
async function countFileHandleCalls(sample: string) {
  const probe = await open(sample, "r");
  const proto = Object.getPrototypeOf(probe) as Record<"read" | "stat", (...args: unknown[]) => unknown>;
  await probe.close();
  const { read, stat } = proto;
  const counts = { reads: 0, stats: 0 };
  proto.read = function (this: unknown, ...args: unknown[]) {
    counts.reads++;
    return read.apply(this, args);
  };
  proto.stat = function (this: unknown, ...args: unknown[]) {
    counts.stats++;
    return stat.apply(this, args);
  };
  return {
    counts,
    restore: () => {
      proto.read = read;
      proto.stat = stat;
    },
  };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sipban-follow-"));
  log = join(dir, "messages");
});

afterEach(async () => {
  await Promise.all(running.map((f) => f.stop()));
  running = [];
  rmSync(dir, { recursive: true, force: true });
});

describe("FileFollower", () => {
  it("delivers appended lines in order", async () => {
    writeFileSync(log, text(range(1, 2)));
    const [f, seen] = follow("start");
    await f.start();
    assert.deepEqual(seen.lines, range(1, 2));
    for (let i = 3; i <= 50; i++) {
      appendFileSync(log, text([numbered(i)]));
      if (i % 7 === 0) await sleep(1);
    }
    await waitLines(seen, 50);
    assert.deepEqual(seen.lines, range(1, 50));
    assert.deepEqual(f.position()?.offset, 50 * 10);
    assert.deepEqual(seen.errors, []);
  });

  it("holds a partial line until its newline arrives", async () => {
    writeFileSync(log, "first\nsec");
    const [f, seen] = follow("start");
    await f.start();
    assert.deepEqual(seen.lines, ["first"]);
    assert.equal(f.position()?.offset, 6, "the position stops before the partial line");
    appendFileSync(log, "ond");
    await f.poll();
    assert.deepEqual(seen.lines, ["first"]);
    appendFileSync(log, " half\nthird\n");
    await waitLines(seen, 3);
    assert.deepEqual(seen.lines, ["first", "second half", "third"]);
  });

  it('"end" skips history but reads the line being written whole', async () => {
    writeFileSync(log, "old 1\nold 2\npart");
    const [f, seen] = follow("end");
    await f.start();
    assert.deepEqual(seen.lines, []);
    appendFileSync(log, "ial\nnew\n");
    await waitLines(seen, 2);
    assert.deepEqual(seen.lines, ["partial", "new"]);
  });

  it('"start" reads a history larger than one chunk, in order', async () => {
    const all = range(1, 9999).map((l) => l.padEnd(399, "."));
    writeFileSync(log, text(all)); // 4 MB
    const [f, seen] = follow("start");
    await f.start();
    assert.equal(seen.lines.length, all.length);
    assert.deepEqual(seen.lines, all);
    assert.ok(seen.calls >= 4, `one onData per chunk, not per file (${seen.calls})`);
  });

  it("skips a line longer than its buffer and says so", async () => {
    writeFileSync(log, "before\n" + "x".repeat(5 * 1024 * 1024) + "\nafter\n");
    const [f, seen] = follow("start");
    await f.start();
    assert.deepEqual(seen.lines, ["before", "after"]);
    assert.equal(seen.errors.length, 1);
    assert.match(seen.errors[0]!.message, /skipped a line longer than/);
  });

  for (const create of [true, false]) {
    it(`rename rotation mid-stream, old file written after the rename (${create ? "new file created at once" : "writer creates it"}): every line once, in order`, async () => {
      writeFileSync(log, "");
      const [f, seen] = follow("start");
      await f.start();
      let writer = openSync(log, "a");
      for (let i = 1; i <= 300; i++) {
        if (i === 101) {
          renameSync(log, log + ".1");
          if (create) writeFileSync(log, "");
        }
        if (i === 201) {
          closeSync(writer); // the writer reopens its log
          writer = openSync(log, "a");
        }
        writeSync(writer, numbered(i) + "\n");
        if (i % 10 === 0) await sleep(1);
      }
      closeSync(writer);
      await waitLines(seen, 300);
      await f.poll();
      assert.deepEqual(seen.lines, range(1, 300));
      // With the new file created at once, a check may still fall between rename and create.
      const switched = create ? ["rotated", "appeared"] : ["appeared"];
      assert.ok(
        seen.events.some((e) => switched.includes(e)),
        `events: ${seen.events}`,
      );
      assert.deepEqual(seen.errors, []);
    });
  }

  it("drains lines that reach the old file while the new one gets its first line", async () => {
    writeFileSync(log, text(range(1, 2)));
    let old = -1;
    const [f, seen] = follow("start", {
      onData(buf, end) {
        seen.lines.push(...buf.toString("utf8", 0, end - 1).split("\n"));
        if (seen.lines.at(-1) !== numbered(3)) return;
        // Between the follower's read of the old file and its look at the path:
        writeSync(old, numbered(4) + "\n");
        appendFileSync(log, numbered(5) + "\n");
      },
    });
    await f.poll(); // no watchers, no timer: each step below is one check
    renameSync(log, log + ".1");
    writeFileSync(log, "");
    old = openSync(log + ".1", "a");
    await f.poll();
    writeSync(old, numbered(3) + "\n");
    await f.poll();
    closeSync(old);
    assert.deepEqual(seen.lines, range(1, 5));
  });

  it("flushes a partial line left at the end of a rotated-away file", async () => {
    writeFileSync(log, "a\nb");
    const [f, seen] = follow("start");
    await f.start();
    renameSync(log, log + ".1");
    writeFileSync(log, "c\n");
    await waitLines(seen, 3);
    assert.deepEqual(seen.lines, ["a", "b", "c"]);
  });

  it("copytruncate mid-stream: reads the new content from the start", async () => {
    writeFileSync(log, "");
    const [f, seen] = follow("start");
    await f.start();
    appendFileSync(log, text(range(1, 50)));
    await waitLines(seen, 50);
    copyFileSync(log, log + ".1");
    truncateSync(log, 0);
    appendFileSync(log, text(range(51, 80)));
    await waitLines(seen, 80);
    await f.poll();
    assert.deepEqual(seen.lines, range(1, 80));
    assert.ok(seen.events.includes("truncated"), `events: ${seen.events}`);
  });

  it("deletion then re-creation: waits, then reads the new file from the start", async () => {
    writeFileSync(log, text(range(1, 5)));
    const [f, seen] = follow("start");
    await f.start();
    unlinkSync(log);
    await waitEvent(seen, "missing");
    writeFileSync(log, text(range(6, 8)));
    await waitLines(seen, 8);
    assert.deepEqual(seen.lines, range(1, 8));
    assert.deepEqual(seen.events, ["missing", "appeared"]);
  });

  it("waits for a file that does not exist yet, then reads it from the start", async () => {
    const [f, seen] = follow("end");
    await f.start();
    assert.deepEqual(seen.events, ["missing"]);
    assert.equal(f.position(), null);
    writeFileSync(log, text(range(1, 3)));
    await waitLines(seen, 3);
    assert.deepEqual(seen.lines, range(1, 3));
    assert.deepEqual(seen.events, ["missing", "appeared"]);
    assert.equal(f.position()?.offset, 30);
  });

  /** Runs a follower over lines 1..10, stops it, returns where it stood. */
  async function firstRun(): Promise<FollowPosition> {
    writeFileSync(log, text(range(1, 10)));
    const [f, seen] = follow("start");
    await f.start();
    assert.deepEqual(seen.lines, range(1, 10));
    await f.stop();
    const pos = f.position();
    assert.ok(pos);
    assert.deepEqual(seen.positions.at(-1), pos);
    return JSON.parse(JSON.stringify(pos)) as FollowPosition;
  }

  it("resumes from a saved position with the lines written while down", async () => {
    const saved = await firstRun();
    assert.equal(saved.offset, 100);
    appendFileSync(log, text(range(11, 20)));
    const [f, seen] = follow(saved);
    await f.start();
    assert.deepEqual(seen.lines, range(11, 20));
    assert.deepEqual(seen.events, ["resumed"]);
  });

  it("resumes across a rotation during downtime: rest of messages.1, then the new messages", async () => {
    const saved = await firstRun();
    appendFileSync(log, text(range(11, 15)));
    renameSync(log, log + ".1");
    appendFileSync(log + ".1", text(range(16, 20))); // the writer still had it open
    writeFileSync(log + ".2.gz", "not read");
    writeFileSync(log + ".old", text(["unrelated"]));
    writeFileSync(join(dir, "full"), text(["other log"]));
    writeFileSync(log, text(range(21, 25)));
    const [f, seen] = follow(saved);
    await f.start();
    await waitLines(seen, 15);
    assert.deepEqual(seen.lines, range(11, 25));
    assert.deepEqual(seen.events, ["resumed", "rotated"]);
  });

  it("resumes across a copytruncate during downtime", async () => {
    const saved = await firstRun();
    appendFileSync(log, text(range(11, 15)));
    copyFileSync(log, log + ".1");
    truncateSync(log, 0);
    appendFileSync(log, text(range(16, 18)));
    const [f, seen] = follow(saved);
    await f.start();
    await waitLines(seen, 8);
    assert.deepEqual(seen.lines, range(11, 18));
  });

  it("resumes by fingerprint when a copy changed the inode", async () => {
    const saved = await firstRun();
    copyFileSync(log, log + ".tmp");
    appendFileSync(log + ".tmp", text(range(11, 12)));
    renameSync(log + ".tmp", log);
    const [f, seen] = follow(saved);
    await f.start();
    assert.deepEqual(seen.lines, range(11, 12));
    assert.deepEqual(seen.events, ["resumed"]);
  });

  it("restarts from the start when the saved position names another file (even a reused inode)", async () => {
    const saved = await firstRun();
    unlinkSync(log);
    const other = range(1, 20).map((l) => "other " + l);
    writeFileSync(log, text(other));
    const [f, seen] = follow(saved);
    await f.start();
    assert.deepEqual(seen.lines, other);
    assert.deepEqual(seen.events, ["restarted"]);
  });

  it("polling alone (watch: false) follows appends and rotation", async () => {
    writeFileSync(log, "");
    const [f, seen] = follow("start", { watch: false, pollIntervalMs: 250 });
    await f.start();
    appendFileSync(log, text(range(1, 5)));
    await waitLines(seen, 5);
    renameSync(log, log + ".1");
    appendFileSync(log + ".1", text(range(6, 7)));
    writeFileSync(log, text(range(8, 9)));
    await waitLines(seen, 9);
    assert.deepEqual(seen.lines, range(1, 9));
    assert.deepEqual(seen.events, ["rotated"]);
  });

  it("an idle follower does not spin: one check a poll interval, at most one read", async () => {
    const pollIntervalMs = 250;
    writeFileSync(log, text(range(1, 1000)));
    const [f, seen] = follow("start", { pollIntervalMs });
    await f.start();
    await waitLines(seen, 1000);
    const handles = await countFileHandleCalls(log);
    try {
      const calls = seen.calls;
      const idleStart = performance.now();
      await sleep(1000);
      const idleMs = performance.now() - idleStart;
      const { reads, stats } = handles.counts;
      // Counted work, not CPU time (which a loaded machine inflates): the daemon's idle CPU is
      // measured by the benchmark instead.
      assert.equal(seen.calls, calls, "no data, no onData");
      assert.ok(reads <= 1, `${reads} reads while idle`);
      // Idle, each check stats the open file once, and only the poll timer starts checks: one an
      // interval over the time measured, one more for a check that straddles its start.
      const maxStats = Math.floor(idleMs / pollIntervalMs) + 2;
      assert.ok(stats <= maxStats, `${stats} stats in ${Math.round(idleMs)} ms idle, at most ${maxStats}`);
      // The count sees the follower's checks: one more check, at least one more stat.
      await f.poll();
      assert.ok(handles.counts.stats > stats, "a check stats the open file");
    } finally {
      handles.restore();
    }
  });

  it("reports a path it cannot read once, keeps retrying, then reads the file", async () => {
    mkdirSync(log);
    const [f, seen] = follow("start");
    await f.start();
    await f.poll();
    await f.poll();
    assert.equal(seen.errors.length, 1, "consecutive identical errors are reported once");
    assert.match(seen.errors[0]!.message, /messages: is not a regular file/);
    rmdirSync(log);
    writeFileSync(log, text(range(1, 3)));
    await waitLines(seen, 3);
    assert.deepEqual(seen.lines, range(1, 3));
  });

  it("stop() closes everything and keeps the last position; poll() after it does nothing", async () => {
    writeFileSync(log, text(range(1, 3)));
    const [f, seen] = follow("start");
    await f.start();
    await f.stop();
    appendFileSync(log, text(range(4, 5)));
    await f.poll();
    assert.deepEqual(seen.lines, range(1, 3));
    assert.equal(f.position()?.offset, 30);
  });
});
