import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type GuardSink, type Signal, SplitGuard } from "../src/detect/split-guard.js";

// The guard holds each line until 1 KiB of input has followed it. These lines are 10 bytes
// each, so about a hundred are held at once: more than the ring starts with, and its slots
// wrap around while lines come and go.

interface Told {
  released: number[];
  dropped: number[];
  injections: Array<string | undefined>;
}

function recorder(): { sink: GuardSink<number>; told: Told } {
  const told: Told = { released: [], dropped: [], injections: [] };
  return {
    told,
    sink: {
      released: (n) => told.released.push(n),
      dropped: (n) => told.dropped.push(n),
      injection: (who) => told.injections.push(who?.ip),
      // Lines pushed as numbers are told apart by sign here (the guard takes -1 as well).
      releasedNumber: (n) => told.released.push(-n - 2),
      droppedNumber: (n) => told.dropped.push(-n - 2),
    },
  };
}

const LINE = 10;

describe("SplitGuard", () => {
  it("releases every line once, in input order, when nothing is split", () => {
    const guard = new SplitGuard<number>();
    const { sink, told } = recorder();
    for (let n = 0; n < 1000; n++) {
      guard.push(n, n * LINE, LINE, null, sink);
      // Nothing is released before 1 KiB has followed it.
      const newest = told.released.at(-1);
      if (newest !== undefined) assert.ok((newest + 1) * LINE + 1024 <= n * LINE);
    }
    guard.flush(sink);
    assert.deepEqual(told.released, [...Array(1000).keys()]);
    assert.deepEqual(told.dropped, []);
  });

  it("drops what a split record's remainder follows within the window, with more lines held than the ring first had", () => {
    const guard = new SplitGuard<number>();
    const { sink, told: toldAll } = recorder();
    // Long lines first (released soon: the ring's front moves on), then a burst of short ones
    // (more held than the ring's first size, around its end).
    const lengths = [...Array(600).keys()].map((n) => (n < 50 ? 100 : LINE));
    const offsets: number[] = [];
    lengths.reduce((at, length) => {
      offsets.push(at);
      return at + length;
    }, 0);
    const start = 400;
    const remainder = 450;
    const signals = new Map<number, Signal>([
      [start, { kind: "security-start" }],
      [remainder, { kind: "remainder", injector: { ip: "198.51.100.9" } }],
    ]);
    // Every third line without a signal is pushed as a number: it must be held, released and
    // dropped as the lines around it are.
    const asNumber = (n: number) => n % 3 === 0 && !signals.has(n);
    lengths.forEach((length, n) => {
      if (asNumber(n)) guard.pushNumber(n, offsets[n]!, length, sink);
      else guard.push(n, offsets[n]!, length, signals.get(n) ?? null, sink);
    });
    guard.flush(sink);
    const told = {
      released: toldAll.released.map((n) => (n < 0 ? -n - 2 : n)),
      dropped: toldAll.dropped.map((n) => (n < 0 ? -n - 2 : n)),
      injections: toldAll.injections,
    };
    assert.ok(toldAll.released.some((n) => n < 0) && toldAll.dropped.some((n) => n < 0));
    assert.ok(toldAll.released.every((n) => n < 0 === asNumber(n < 0 ? -n - 2 : n)));
    assert.ok(toldAll.dropped.every((n) => n < 0 === asNumber(n < 0 ? -n - 2 : n)));
    // The remainder drops itself and the held lines that end after its offset - 1024.
    const limit = offsets[remainder]! - 1024;
    const dropped = [...Array(600).keys()].filter((n) => offsets[n]! + lengths[n]! > limit && n <= remainder);
    assert.ok(dropped.length > 64, "the lines dropped were held all at once");
    assert.deepEqual(
      told.dropped.sort((a, b) => a - b),
      dropped,
    );
    assert.deepEqual(
      told.released,
      [...Array(600).keys()].filter((n) => !dropped.includes(n)),
    );
    assert.deepEqual(told.injections, ["198.51.100.9"]);
  });

  it("drops lines pushed as numbers that come within a started record's window, and holds the ones after", () => {
    const guard = new SplitGuard<number>();
    const { sink, told } = recorder();
    guard.push(0, 0, LINE, { kind: "start" }, sink);
    // 1 KiB after the start's end (10 + 1024): lines 1 to 103 start inside it.
    for (let n = 1; n < 200; n++) guard.pushNumber(n, n * LINE, LINE, sink);
    guard.pushNumber(-1, 200 * LINE, LINE, sink);
    guard.flush(sink);
    const inside = [...Array(104).keys()].slice(1);
    assert.deepEqual(told.dropped, [0, ...inside.map((n) => -n - 2)]);
    assert.deepEqual(told.released, [...[...Array(200).keys()].slice(104).map((n) => -n - 2), -1]);
  });
});
