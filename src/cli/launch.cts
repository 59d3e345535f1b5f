// CommonJS, as bin/sipban is: an ES module at start-up costs Node's module loader (resolving,
// translating, a facade for each built-in imported) at every invocation.
import { readFileSync } from "node:fs";

import Module = require("node:module");

import { join } from "node:path";
import { Script } from "node:vm";

import zlib = require("node:zlib");

/**
 * The CLI as one CommonJS script (`npm run build:cli`), which `bin/sipban` runs with the V8 code
 * cache made when it was built (see make-code-cache.ts): an invocation then neither parses nor
 * compiles to bytecode the functions the build's own scan compiled. Node 20 has no compile cache
 * of its own (22 has `module.enableCompileCache`), so the script is compiled here, as Node
 * compiles a CommonJS module.
 *
 * V8 takes a cache for a script of the same length as its own, and rejects one that another
 * Node or V8 build made (the script then compiles as usual). So that a bundle changed in place
 * never runs the bytecode of the one before it, the cache starts with the CRC-32 of the bundle
 * it was made for (4 bytes, little-endian), and a cache for other bytes is not used.
 */
export const BUNDLE = join(__dirname, "..", "..", "bundle", "cli", "main.cjs");

/** Where the build writes the bundle's code cache, and the launcher reads it. */
export const CODE_CACHE = `${BUNDLE}.cache`;

/** The bundle's bytes. */
export function readBundle(): Buffer {
  return readFileSync(BUNDLE);
}

/** The bundle, compiled with V8's `cachedData` when given. */
export function compileBundle(bundle: Buffer, cachedData?: Buffer): Script {
  return new Script(Module.wrap(bundle.toString("utf8")), { filename: BUNDLE, cachedData });
}

/**
 * The code cache file's bytes for `script`, compiled from `bundle` and run: V8's data after the
 * bundle's check. Undefined where the check cannot be made (and so no cache would be used).
 */
export function codeCacheFile(bundle: Buffer, script: Script): Buffer | undefined {
  const check = bundleCheck(bundle);
  if (check === undefined) return undefined;
  const head = Buffer.alloc(4);
  head.writeUInt32LE(check);
  return Buffer.concat([head, script.createCachedData()]);
}

/** V8's data in the code cache file `file`, when it was made for `bundle`; undefined otherwise. */
export function cachedDataFor(bundle: Buffer, file: Buffer): Buffer | undefined {
  const check = bundleCheck(bundle);
  if (check === undefined || file.length <= 4 || file.readUInt32LE(0) !== check) return undefined;
  return file.subarray(4);
}

// zlib.crc32 came in Node 20.15: before it, no check, so no cache.
function bundleCheck(bundle: Buffer): number | undefined {
  return typeof zlib.crc32 === "function" ? zlib.crc32(bundle) : undefined;
}

/** Runs the compiled bundle as Node runs a CommonJS module: the CLI then takes process.argv. */
export function runBundle(script: Script): void {
  const module = new Module(BUNDLE);
  module.filename = BUNDLE;
  const body = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: Module,
    filename: string,
    dirname: string,
  ) => void;
  body.call(module.exports, module.exports, Module.createRequire(BUNDLE), module, BUNDLE, join(BUNDLE, ".."));
}

/** The CLI, with the code cache when the build made one for this bundle. */
export function runCli(): void {
  const bundle = readBundle();
  let cache: Buffer | undefined;
  try {
    cache = cachedDataFor(bundle, readFileSync(CODE_CACHE));
  } catch {
    // No cache (a build made elsewhere and copied without it, say): the bundle compiles as usual.
  }
  runBundle(compileBundle(bundle, cache));
}
