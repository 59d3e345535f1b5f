import assert from "node:assert/strict";
import { copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import zlib from "node:zlib";
import { CODE_CACHE, cachedDataFor, compileBundle, readBundle } from "../src/cli/launch.cjs";
import { runCommand, sipbanMain } from "./helpers/command.js";
import { tempDir } from "./helpers/temp-dir.js";

const root = join(import.meta.dirname, "..", "..");
const sample = join(root, "examples", "asterisk-messages.log");
// The cache's check is zlib.crc32 (Node 20.15): without it the build makes no cache.
const noCache =
  typeof zlib.crc32 !== "function" && "this Node has no zlib.crc32: the build made no code cache";

/** A copy of the installed layout, with `bundle` and `cache` as its bundle and code cache. */
function installedCopy(t: TestContext, bundle: Buffer, cache: Buffer): string {
  const dir = tempDir(t, "sipban-bundle-");
  for (const sub of ["bin", "dist/src/cli", "dist/bundle/cli"])
    mkdirSync(join(dir, sub), { recursive: true });
  for (const file of ["package.json", "bin/sipban", "bin/package.json", "dist/src/cli/launch.cjs"])
    copyFileSync(join(root, file), join(dir, file));
  writeFileSync(join(dir, "dist", "bundle", "cli", "main.cjs"), bundle);
  writeFileSync(join(dir, "dist", "bundle", "cli", "main.cjs.cache"), cache);
  cpSync(join(root, "dist", "assembly"), join(dir, "dist", "assembly"), { recursive: true });
  return join(dir, "bin", "sipban");
}

describe("the CLI bundle and its code cache", () => {
  it("the cache the build made is one this Node accepts", { skip: noCache }, () => {
    const bundle = readBundle();
    const data = cachedDataFor(bundle, readFileSync(CODE_CACHE));
    assert.ok(data, "the cache was made for this bundle");
    assert.equal(compileBundle(bundle, data).cachedDataRejected, false);
  });

  it("a cache V8 cannot use is rejected, and the bundle compiles without it", () => {
    assert.equal(compileBundle(readBundle(), Buffer.from("not a code cache")).cachedDataRejected, true);
  });

  it("a cache made for other bytes of the same length is not used", { skip: noCache }, () => {
    const bundle = readBundle();
    const changed = Buffer.from(
      bundle.toString("latin1").replace('"linesRead": ', '"LINESREAD": '),
      "latin1",
    );
    assert.equal(changed.length, bundle.length);
    assert.notDeepEqual(changed, bundle);
    assert.equal(cachedDataFor(changed, readFileSync(CODE_CACHE)), undefined);
  });

  it("the launcher runs what the bundle says, whatever is wrong with the cache beside it", {
    skip: noCache,
  }, async (t) => {
    const bundle = readBundle();
    const cache = readFileSync(CODE_CACHE);
    const args = ["scan", "--json", sample];
    const built = await runCommand(process.execPath, [sipbanMain, ...args]);
    assert.equal(built.code, 0, built.stderr);
    assert.equal(JSON.parse(built.stdout).failures, 41);

    // V8's part is garbage, as in a cache another Node made: the bundle compiles as usual.
    const garbage = Buffer.concat([cache.subarray(0, 4), Buffer.from("not a code cache")]);
    const rejected = await runCommand(process.execPath, [installedCopy(t, bundle, garbage), ...args]);
    assert.equal(rejected.code, 0, rejected.stderr);
    assert.equal(rejected.stderr, "");
    assert.equal(rejected.stdout, built.stdout);

    // The bundle changed in place, to the same length, beside the old cache: the change runs.
    const changed = Buffer.from(
      bundle.toString("latin1").replace('"linesRead": ', '"LINESREAD": '),
      "latin1",
    );
    const stale = await runCommand(process.execPath, [installedCopy(t, changed, cache), ...args]);
    assert.equal(stale.code, 0, stale.stderr);
    assert.equal(stale.stdout, built.stdout.replace('"linesRead": ', '"LINESREAD": '));
  });
});
