import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { defaultConfig } from "../src/config/defaults.js";
import { Detector } from "../src/detect/detector.js";
import { buildRules } from "../src/detect/ruleset.js";
import {
  createLineSearch,
  type LineSearch,
  RegExpLineSearch,
  WasmLineSearch,
  windowBucket,
} from "../src/sources/line-search.js";
import { wasmModule } from "../src/util/wasm-module.js";

const root = join(import.meta.dirname, "..", "..");
const literals = new Detector({ rules: buildRules(defaultConfig().detect) }, () => {}).literals();

function linesFound(search: LineSearch, text: Buffer): { lines: number; found: string[] } {
  const found: string[] = [];
  const lines = search.scan(text, text.length, (start, stop) =>
    found.push(text.toString("latin1", start, stop)),
  );
  return { lines, found };
}

/** What a plain reading finds: every line holding a literal, and the number of lines. */
function expected(text: Buffer, words: readonly string[]): { lines: number; found: string[] } {
  const all = text.toString("latin1").split("\n").slice(0, -1);
  const bytes = words.map((w) => Buffer.from(w, "utf8").toString("latin1"));
  return { lines: all.length, found: all.filter((l) => bytes.some((w) => l.includes(w))) };
}

function wasm(words: readonly string[], sample: Buffer): WasmLineSearch {
  const search = WasmLineSearch.create(
    words.map((w) => Buffer.from(w, "utf8")),
    sample,
  );
  assert.ok(search, "WebAssembly SIMD must be available on Node 20");
  return search;
}

/** A deterministic pseudo-random source (the same cases on every run). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("line search", () => {
  it("uses WebAssembly here", () => {
    assert.ok(createLineSearch(literals, Buffer.from("x\n")) instanceof WasmLineSearch);
  });

  it("finds the same lines as a plain reading in the sample log and the corpus", () => {
    const files = [
      join(root, "examples", "asterisk-messages.log"),
      ...readdirSync(join(root, "test", "corpus")).map((f) => join(root, "test", "corpus", f)),
    ];
    for (const file of files) {
      let text = readFileSync(file);
      if (text[text.length - 1] !== 0x0a) text = Buffer.concat([text, Buffer.from("\n")]);
      const want = expected(text, literals);
      assert.ok(want.found.length > 0, `${file}: has lines with literals`);
      assert.deepEqual(linesFound(wasm(literals, text), text), want, file);
      assert.deepEqual(
        linesFound(new RegExpLineSearch(literals.map((l) => Buffer.from(l))), text),
        want,
        file,
      );
    }
  });

  it("finds literals anywhere: at line starts and ends, across 16-byte blocks, several per line", () => {
    const next = random(7);
    const words = [...literals, "sip", "élan", "ab"];
    const pieces = ["x", " ", "fail", "failed fo", "<--", "é", "Ext.", "'", "=", "\t", "ACL"];
    for (let round = 0; round < 40; round++) {
      const lines: string[] = [];
      for (let i = 0; i < 200; i++) {
        let line = "";
        const parts = Math.floor(next() * 12);
        for (let p = 0; p < parts; p++) {
          line +=
            next() < 0.15
              ? words[Math.floor(next() * words.length)]!
              : pieces[Math.floor(next() * pieces.length)]!;
        }
        lines.push(line);
      }
      const text = Buffer.from(`${lines.join("\n")}\n`, "utf8");
      const want = expected(text, words);
      assert.deepEqual(linesFound(wasm(words, text), text), want, `round ${round}`);
    }
  });

  it("counts lines and finds nothing in text without literals, also in a chunk shorter than a block", () => {
    const search = wasm(literals, Buffer.alloc(0));
    for (const text of ["\n", "a\n", "\n\n\n", `${"z".repeat(100)}\n`.repeat(33)]) {
      const buf = Buffer.from(text);
      assert.deepEqual(linesFound(search, buf), expected(buf, literals));
    }
  });

  it("grows for a chunk larger than any before and keeps finding lines", () => {
    const search = wasm(["needle"], Buffer.from("hay\n"));
    const small = Buffer.from("hay\nneedle\n");
    assert.deepEqual(linesFound(search, small), { lines: 2, found: ["needle"] });
    const big = Buffer.from(`${"hay hay hay\n".repeat(300_000)}a needle here\n`);
    assert.deepEqual(linesFound(search, big), { lines: 300_001, found: ["a needle here"] });
    assert.deepEqual(linesFound(search, small), { lines: 2, found: ["needle"] });
  });

  it("counts every newline around the lines it finds: short lines, several in a block, before and after", () => {
    const search = wasm(["needle", "pin"], Buffer.alloc(0));
    // Seeded: lines of 0 to 21 bytes, a third of them holding a literal somewhere.
    let seed = 7;
    const next = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    for (let round = 0; round < 50; round++) {
      const lines: string[] = [];
      for (let i = next(200); i >= 0; i--) {
        const filler = "x".repeat(next(12));
        lines.push(
          next(3) === 0 ? `${filler.slice(0, next(5))}${next(2) ? "needle" : "pin"}${filler}` : filler,
        );
      }
      const buf = Buffer.from(`${lines.join("\n")}\n`);
      assert.deepEqual(linesFound(search, buf), expected(buf, ["needle", "pin"]));
    }
  });

  it("counts the sample's 4-byte windows in the module as the host's bucket says", () => {
    const module = wasmModule("scan.wasm");
    assert.ok(module);
    const exports = new WebAssembly.Instance(module, {}).exports as unknown as {
      memory: WebAssembly.Memory;
      dataEnd(): number;
      countWindows(start: number, end: number, counts: number): void;
    };
    const sample = readFileSync(join(root, "examples", "asterisk-messages.log"));
    const textAt = Math.ceil(exports.dataEnd() / 8) * 8;
    const countsAt = textAt + sample.length + 8 - (sample.length % 8);
    exports.memory.grow(Math.ceil((countsAt + 4 * 65_536) / 65_536));
    new Uint8Array(exports.memory.buffer).set(sample, textAt);
    exports.countWindows(textAt, textAt + sample.length, countsAt);
    const counts = new Uint32Array(exports.memory.buffer, countsAt, 65_536);
    const want = new Uint32Array(65_536);
    for (let at = 0; at + 4 <= sample.length; at++) want[windowBucket(sample, at)]!++;
    assert.deepEqual(counts, want);
    assert.equal(
      counts.reduce((n, c) => n + c, 0),
      sample.length - 3,
    );
  });

  it("ignores stale bytes past the end of a shorter chunk", () => {
    const search = wasm(["needle"], Buffer.from("hay\n"));
    const long = Buffer.from("hay\nhay\nneedle\n");
    linesFound(search, long);
    // The same buffer, but only its first two lines are the chunk now.
    assert.deepEqual(linesFound(search, long.subarray(0, 8)), { lines: 2, found: [] });
  });
});
