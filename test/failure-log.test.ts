import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DEFAULT_PARAMS, generate } from "../bench/generate-log.js";
import { defaultConfig } from "../src/config/defaults.js";
import type { FailureEvent } from "../src/detect/event.js";
import { FailureLog } from "../src/report/failure-log.js";
import { scanFiles } from "../src/report/scan-files.js";
import { failure } from "./helpers/events.js";

/** Adds the failures to a log, then replays them; returns what each visit saw. */
function replay(events: FailureEvent[], details: boolean) {
  const log = new FailureLog({ details });
  for (const e of events) log.add(e);
  const seen: FailureEvent[] = [];
  log.forEachByAddress((e) => {
    seen.push({ ...e });
  });
  return seen;
}

describe("failure log", () => {
  it("replays address by address, each in time order, ties in the order read", () => {
    const seen = replay(
      [
        failure("192.0.2.1", 3000, { user: "a" }),
        failure("192.0.2.2", 1000),
        failure("192.0.2.1", 1000, { user: "b" }),
        failure("192.0.2.2", 500),
        failure("192.0.2.1", 3000, { user: "c" }),
        failure("192.0.2.1", 2000, { user: "d" }),
      ],
      true,
    );
    assert.deepEqual(
      seen.map((e) => `${e.ip}@${e.time}:${e.user ?? "-"}`),
      [
        "192.0.2.1@1000:b",
        "192.0.2.1@2000:d",
        "192.0.2.1@3000:a",
        "192.0.2.1@3000:c",
        "192.0.2.2@500:-",
        "192.0.2.2@1000:-",
      ],
    );
  });

  it("keeps numbers and flags always, and what a failure said only when asked", () => {
    const events = [
      failure("2001:db8::1", 1000, {
        weight: 2,
        attempts: 3,
        instant: true,
        injection: true,
        reason: "Log injection attempt",
        service: "security",
        rule: "security-injection",
        user: "x'y",
        line: "the line",
      }),
    ];
    const [full] = replay(events, true);
    assert.equal(full!.time, 1000);
    assert.equal(full!.attempts, 3);
    assert.equal(full!.reason, "Log injection attempt");
    assert.equal(full!.service, "security");
    assert.equal(full!.rule, "security-injection");
    assert.equal(full!.user, "x'y");
    assert.equal(full!.line, "the line");
    const [bare] = replay(events, false);
    assert.equal(bare!.ip, "2001:db8::1");
    assert.equal(bare!.time, 1000);
    assert.equal(bare!.weight, 2);
    assert.equal(bare!.attempts, 3);
    assert.equal(bare!.instant, true);
    assert.equal(bare!.injection, true);
    assert.equal(bare!.reason, "");
    assert.equal(bare!.user, undefined);
    assert.equal(bare!.line, undefined);
  });

  it("gives each address's failures in time order, amounts as weight times attempts (Infinity: instant)", () => {
    const log = new FailureLog();
    for (const e of [
      failure("192.0.2.1", 3000, { weight: 2, attempts: 3 }),
      failure("192.0.2.2", 1000, { instant: true }),
      failure("192.0.2.1", 1000),
      failure("192.0.2.1", 2000, { weight: 0.5 }),
    ])
      log.add(e);
    const seen: string[] = [];
    log.forEachAddress((offender, f) => {
      const rows = Array.from(
        f.order.subarray(f.from, f.to),
        (i) => `${f.marks[2 * i]}:${f.marks[2 * i + 1]}`,
      );
      seen.push(`${log.ipOf(offender)} ${rows.join(" ")}`);
    });
    assert.deepEqual(seen, ["192.0.2.1 1000:1 2000:0.5 3000:6", "192.0.2.2 1000:Infinity"]);
  });

  it("holds more failures than its first allocation", () => {
    const events = Array.from({ length: 5000 }, (_, i) => failure(`198.51.100.${i % 7}`, 5000 - i));
    const seen = replay(events, false);
    assert.equal(seen.length, 5000);
    // The addresses first appear in the order .0 to .6, which is also their text order.
    for (let i = 1; i < seen.length; i++) {
      const a = seen[i - 1]!;
      const b = seen[i]!;
      assert.ok(a.ip < b.ip || (a.ip === b.ip && a.time <= b.time), `order at ${i}`);
    }
  });

  it("holds the same failures whether it set aside too little room, plenty, or a nonsense amount", () => {
    const events = Array.from({ length: 5000 }, (_, k) =>
      failure(`192.0.2.${k % 7}`, 1000 + ((k * 37) % 101), {
        user: `u${k % 13}`,
        weight: 1 + (k % 3),
        instant: k % 997 === 0,
        injection: k % 1009 === 0,
      }),
    );
    const replayed = (log: FailureLog) => {
      for (const e of events) log.add(e);
      const seen: FailureEvent[] = [];
      log.forEachByAddress((e) => {
        seen.push({ ...e });
      });
      return { columns: log.columns(), users: log.usersOf(3), seen };
    };
    const small = replayed(new FailureLog({ capacity: 1500 }));
    assert.equal(small.columns.countedSize, 5000);
    assert.equal(small.seen.length, 5000);
    for (const capacity of [100_000, Number.NaN, Number.POSITIVE_INFINITY, -5, 2.5])
      assert.deepEqual(replayed(new FailureLog({ capacity })), small, String(capacity));
  });
});

describe("failure log's user names", () => {
  it("numbers a name only while its address may still list it, and lists the first ten counted", () => {
    const log = new FailureLog();
    for (let k = 0; k < 1000; k++) log.add(failure("192.0.2.1", k, { user: `u${k}` }));
    log.add(failure("192.0.2.2", 0, { user: "admin" }));
    assert.deepEqual(
      log.usersOf(log.address("192.0.2.1")),
      [...Array(10).keys()].map((k) => `u${k}`),
    );
    assert.deepEqual(log.usersOf(log.address("192.0.2.2")), ["admin"]);
    // u0 to u9 and admin were numbered; the 990 names after them were not.
    assert.equal(log.users.id("a name not seen"), 11);
    // With details (scan --ban's evidence), every failure keeps its user.
    const detailed = new FailureLog({ details: true });
    for (let k = 0; k < 30; k++) detailed.add(failure("192.0.2.1", k, { user: `u${k}` }));
    assert.equal(detailed.users.id("a name not seen"), 30);
  });

  it("lists again, after going back to a mark, only the users still counted", () => {
    const log = new FailureLog();
    log.add(failure("192.0.2.1", 0, { user: "kept" }));
    const mark = log.mark();
    for (let k = 0; k < 12; k++) log.add(failure("192.0.2.1", k, { user: `gone${k}` }));
    log.rollback(mark);
    log.add(failure("192.0.2.1", 1, { user: "after" }));
    assert.deepEqual(log.usersOf(log.address("192.0.2.1")), ["kept", "after"]);
  });
});

describe("scan's replay", () => {
  it("reports the same bans whether it stops at each address's first ban or replays everything", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sipban-replay-"));
    try {
      const path = join(dir, "messages.log");
      // Short bans, so that addresses come back and are banned again after the first.
      generate({ ...DEFAULT_PARAMS, lines: 20_000, prefixLines: 10, seed: 11 }, path);
      const config = defaultConfig();
      config.policy.bantime = 60_000;
      const reportOnly = await scanFiles([path], config);
      const withDecisions = await scanFiles([path], config, { decisions: true });
      const offenders = reportOnly.report.offenders();
      assert.ok(offenders.filter((o) => o.wouldBan).length > 50, "many addresses would be banned");
      assert.ok(
        withDecisions.decisions.length > offenders.filter((o) => o.wouldBan).length,
        "some addresses are banned more than once",
      );
      assert.deepEqual(offenders, withDecisions.report.offenders());
      assert.equal(reportOnly.allowlisted, withDecisions.allowlisted);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
