import assert from "node:assert/strict";
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { openInput, scanInput } from "../src/sources/file-reader.js";
import { LineScanner } from "../src/sources/line-scanner.js";
import { failureLine } from "./helpers/log-lines.js";
import { tempDir } from "./helpers/temp-dir.js";

describe("scanInput", () => {
  for (const gz of [false, true]) {
    it(`reads an open ${gz ? ".gz " : ""}file from its start each time, even once another file has taken its path`, async (t) => {
      const dir = tempDir(t, "sipban-");
      const path = join(dir, gz ? "messages.1.gz" : "messages");
      const write = (to: string, ip: string) =>
        writeFileSync(to, gz ? gzipSync(failureLine(ip)) : failureLine(ip));
      write(path, "198.51.100.7");
      const handle = await openInput(path);
      const lines = async () => {
        const seen: string[] = [];
        // No literals: every line is handed over.
        await scanInput(path, new LineScanner([], { line: (text) => seen.push(text) }), handle);
        return seen;
      };
      try {
        const first = await lines();
        assert.equal(first.length, 1);
        assert.match(first[0]!, /'198\.51\.100\.7:5060'/);
        // Rotated between two readings: the path now names another file.
        write(join(dir, "new"), "203.0.113.9");
        renameSync(join(dir, "new"), path);
        assert.deepEqual(await lines(), first);
      } finally {
        await handle.close();
      }
    });
  }
});
