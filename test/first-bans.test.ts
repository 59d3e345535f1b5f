import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Allowlist } from "../src/policy/allowlist.js";
import { BanPolicy, DEFAULT_POLICY } from "../src/policy/policy.js";
import { FailureLog } from "../src/report/failure-log.js";
import { failure } from "./helpers/events.js";
import { seeded } from "./helpers/seeded.js";

const T0 = 1_709_632_800_000;

const policy = (maxretry: number) =>
  new BanPolicy(
    { ...DEFAULT_POLICY, maxretry, findtimeMs: 600_000 },
    new Allowlist(["203.0.113.0/24"], { includeHost: false }),
  );

/** The replay one address at a time, as the policy's firstBanAt does it (the reference). */
function oneByOne(
  log: FailureLog,
  maxretry: number,
): { banAt: Array<number | undefined>; allowlisted: number } {
  const p = policy(maxretry);
  const banAt: Array<number | undefined> = new Array(log.addressCount).fill(undefined);
  log.forEachAddress((offender, failures) => {
    banAt[offender] = p.firstBanAt(log.ipOf(offender), failures);
  });
  return { banAt, allowlisted: p.allowlisted };
}

function allAtOnce(
  log: FailureLog,
  maxretry: number,
): { banAt: Array<number | undefined>; allowlisted: number } {
  const p = policy(maxretry);
  const banAt = p.firstBans(log.columns(), (offender) => log.ipOf(offender));
  assert.ok(banAt, "replayed in WebAssembly");
  return { banAt: [...banAt].map((t) => (Number.isNaN(t) ? undefined : t)), allowlisted: p.allowlisted };
}

describe("first bans replayed for every address at once", () => {
  it("bans each address when the policy would, one address at a time", () => {
    const random = seeded(7);
    const log = new FailureLog();
    for (let n = 0; n < 20_000; n++) {
      // Allowlisted addresses, times out of order and tied, weights that are not whole, a
      // failure that bans at once now and then.
      const k = Math.floor(random() * 400);
      const ip =
        k % 17 === 0
          ? `203.0.113.${k % 250}`
          : k % 5 === 0
            ? `2001:db8::${k.toString(16)}`
            : `198.51.100.${k % 250}`;
      const time = T0 + Math.floor(random() * 3_600_000 * (k % 3 === 0 ? 1 : 0.01)) * 10;
      const r = random();
      log.add(
        failure(ip, time, {
          weight: r < 0.3 ? 0.1 : r < 0.35 ? 0.7 : 1,
          instant: r > 0.999,
          attempts: r > 0.98 ? 3 : 1,
        }),
      );
    }
    for (const maxretry of [1, 3, 5, 12]) {
      const reference = oneByOne(log, maxretry);
      assert.ok(
        reference.banAt.some((t) => t !== undefined),
        "some bans",
      );
      assert.ok(
        reference.banAt.some((t) => t === undefined),
        "some addresses not banned",
      );
      assert.ok(reference.allowlisted > 0, "some failures allowlisted");
      assert.deepEqual(allAtOnce(log, maxretry), reference, `maxretry ${maxretry}`);
    }
  });

  it("skips failures added but not counted, and addresses without a counted failure", () => {
    const log = new FailureLog();
    const offender = log.address("198.51.100.9");
    log.address("198.51.100.10");
    for (let k = 0; k < 6; k++) {
      const i = log.addParsed(
        offender,
        T0 + k * 1000,
        1,
        log.reasons.id("Wrong password"),
        log.services.id("sip"),
        -1,
      );
      if (k !== 2) log.count(i);
    }
    // Five counted: banned at the sixth failure's time, the third (not counted) left out.
    assert.deepEqual(allAtOnce(log, 5), { banAt: [T0 + 5000, undefined], allowlisted: 0 });
    assert.deepEqual(allAtOnce(log, 5), oneByOne(log, 5));
  });

  it("answers for an empty log", () => {
    assert.deepEqual(allAtOnce(new FailureLog(), 5), { banAt: [], allowlisted: 0 });
  });
});
