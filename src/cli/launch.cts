// CommonJS, as bin/sipban is: an ES module at start-up costs Node's module loader (resolving,
// translating, a facade for each built-in imported) at every invocation.
import { readFileSync } from "node:fs";

import Module = require("node:module");

import { join } from "node:path";
import { Script } from "node:vm";

/**
 * The CLI as one CommonJS script (`npm run build:cli`), which `bin/sipban` runs with the V8 code
 * cache made when it was built (see make-code-cache.ts): an invocation then neither parses nor
 * compiles to bytecode the functions the build's own scan compiled. Node 20 has no compile cache
 * of its own (22 has `module.enableCompileCache`), so the script is compiled here, as Node
 * compiles a CommonJS module. A cache that another Node or V8 build made, or none, is rejected
 * by V8 and the script compiles as usual.
 */
export const BUNDLE = join(__dirname, "..", "..", "bundle", "cli", "main.cjs");

/** Where the build writes the bundle's code cache, and the launcher reads it. */
export const CODE_CACHE = `${BUNDLE}.cache`;

/** The bundle, compiled with `cachedData` when given. */
export function compileBundle(cachedData?: Buffer): Script {
  return new Script(Module.wrap(readFileSync(BUNDLE, "utf8")), { filename: BUNDLE, cachedData });
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

/** The CLI, with the code cache when the build made one. */
export function runCli(): void {
  let cache: Buffer | undefined;
  try {
    cache = readFileSync(CODE_CACHE);
  } catch {
    // No cache (a build that could not run its scan): the bundle compiles as usual.
  }
  runBundle(compileBundle(cache));
}
