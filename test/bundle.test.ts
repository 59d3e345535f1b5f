import assert from "node:assert/strict";
import { copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BUNDLE, CODE_CACHE, compileBundle } from "../src/cli/launch.cjs";
import { runCommand, sipbanMain } from "./helpers/command.js";
import { tempDir } from "./helpers/temp-dir.js";

const root = join(import.meta.dirname, "..", "..");
const sample = join(root, "examples", "asterisk-messages.log");

describe("the CLI bundle and its code cache", () => {
  it("the cache the build made is one this Node accepts", () => {
    const script = compileBundle(readFileSync(CODE_CACHE));
    assert.equal(script.cachedDataRejected, false);
  });

  it("a cache V8 cannot use is rejected, and the bundle compiles without it", () => {
    const script = compileBundle(Buffer.from("not a code cache"));
    assert.equal(script.cachedDataRejected, true);
  });

  it("the launcher gives the same output with an unusable cache as with the build's", async (t) => {
    // A copy of the installed layout whose cache is garbage (as one made by another Node is).
    const dir = tempDir(t, "sipban-bundle-");
    for (const sub of ["bin", "dist/src/cli", "dist/bundle/cli"])
      mkdirSync(join(dir, sub), { recursive: true });
    copyFileSync(join(root, "package.json"), join(dir, "package.json"));
    copyFileSync(join(root, "bin", "sipban"), join(dir, "bin", "sipban"));
    copyFileSync(join(root, "bin", "package.json"), join(dir, "bin", "package.json"));
    copyFileSync(
      join(root, "dist", "src", "cli", "launch.cjs"),
      join(dir, "dist", "src", "cli", "launch.cjs"),
    );
    copyFileSync(BUNDLE, join(dir, "dist", "bundle", "cli", "main.cjs"));
    writeFileSync(join(dir, "dist", "bundle", "cli", "main.cjs.cache"), "not a code cache");
    cpSync(join(root, "dist", "assembly"), join(dir, "dist", "assembly"), { recursive: true });

    const args = ["scan", "--json", sample];
    const [built, copied] = await Promise.all([
      runCommand(process.execPath, [sipbanMain, ...args]),
      runCommand(process.execPath, [join(dir, "bin", "sipban"), ...args]),
    ]);
    assert.equal(built.code, 0, built.stderr);
    assert.equal(copied.code, 0, copied.stderr);
    assert.equal(copied.stderr, "");
    assert.equal(JSON.parse(copied.stdout).failures, 41);
    assert.equal(copied.stdout, built.stdout);
  });
});
