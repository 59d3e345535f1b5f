import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { StateStore } from "../src/store/state.js";

describe("state store", () => {
  const ban = (ip: string, since: number, until: number) => ({
    ip,
    since,
    until,
    reason: "test",
    origin: "policy",
  });

  it("keeps active bans, history for escalation, and positions across reopening", () => {
    const path = join(mkdtempSync(join(tmpdir(), "sipban-store-")), "sub", "state.db");
    let store = new StateStore(path);
    store.addBans([ban("203.0.113.5", 1000, 5000), ban("198.51.100.7", 1000, 0)]);
    store.setPosition("file:/var/log/asterisk/messages.log", '{"offset":42}');
    store.close();
    store = new StateStore(path);
    assert.deepEqual(
      store
        .activeBans(2000)
        .map((b) => b.ip)
        .sort(),
      ["198.51.100.7", "203.0.113.5"],
    );
    assert.equal(store.nextExpiry(), 5000);
    assert.deepEqual(store.expire(5000), ["203.0.113.5"]);
    assert.equal(store.activeBan("203.0.113.5", 5000), undefined);
    assert.equal(store.activeBan("198.51.100.7", 1e15)?.until, 0, "a ban without end stays");
    assert.equal(store.offences("203.0.113.5"), 1, "history outlives the ban");
    store.addBans([ban("203.0.113.5", 6000, 9000)]);
    assert.equal(store.offences("203.0.113.5"), 2);
    assert.equal(store.removeBan("203.0.113.5"), true);
    assert.equal(store.removeBan("203.0.113.5"), false);
    assert.equal(store.position("file:/var/log/asterisk/messages.log"), '{"offset":42}');
    store.close();
  });

  it("lists and counts the active bans without their evidence, leaving out the ended ones", () => {
    const store = new StateStore(":memory:");
    store.addBans([
      { ...ban("203.0.113.5", 1000, 5000), evidence: { failures: 7 } },
      ban("198.51.100.7", 1000, 0),
      ban("192.0.2.9", 1000, 3000),
    ]);
    const ends = (now: number) => store.activeBanEnds(now).sort((a, b) => a.ip.localeCompare(b.ip));
    assert.deepEqual(ends(3000), [
      { ip: "198.51.100.7", until: 0 },
      { ip: "203.0.113.5", until: 5000 },
    ]);
    assert.equal(store.countActiveBans(3000), 2);
    assert.equal(store.countActiveBans(2999), 3);
    assert.deepEqual(ends(5000), [{ ip: "198.51.100.7", until: 0 }]);
    assert.equal(store.countActiveBans(5000), 1);
    store.close();
  });

  it("says which directory it cannot create, instead of hanging or a stack trace", () => {
    assert.throws(
      () => new StateStore("/proc/sipban-nope/state.db"),
      /cannot create \/proc\/sipban-nope for the state database/,
    );
  });
});
