import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isoTime } from "../src/cli/format.js";

describe("isoTime", () => {
  it("writes what Date's toISOString writes, around day boundaries and far from now", () => {
    const times = [
      0, -1, 1, 86_399_999, 86_400_000, -86_400_000, 951_782_400_000, 1_709_632_801_123, 253_402_300_799_999,
    ];
    // Every hour of a leap day and around New Year, in uneven steps, then scattered times.
    for (let t = 1_709_164_800_000; t < 1_709_337_600_000; t += 3_599_997) times.push(t);
    for (let t = 1_735_689_000_000; t < 1_735_690_000_000; t += 37_003) times.push(t);
    for (let i = 0; i < 2000; i++) times.push(Math.round(Math.sin(i) * 5e13));
    times.push(1.5, Number.NaN, 8.64e15, -8.64e15, 8.64e15 + 1);
    for (const t of times) {
      if (Number.isNaN(t) || Math.abs(t) > 8.64e15) assert.throws(() => isoTime(t), RangeError);
      else assert.equal(isoTime(t), new Date(t).toISOString(), String(t));
    }
  });
});
