import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const compiled = new Map<string, WebAssembly.Module | null>();

/**
 * The WebAssembly module `dist/assembly/<name>` (built by `npm run build:wasm`), compiled once;
 * each use makes an instance of its own. Null where WebAssembly cannot run or the module was not
 * built (which it warns of): the callers then do the same work in JavaScript. The path holds
 * from here (dist/src/util) and from the launcher's bundle (dist/bundle/cli): both are two
 * levels under dist.
 */
export function wasmModule(name: string): WebAssembly.Module | null {
  let module = compiled.get(name);
  if (module === undefined) {
    const file = new URL(`../../assembly/${name}`, import.meta.url);
    try {
      module = new WebAssembly.Module(readFileSync(file));
    } catch (err) {
      // A machine without WebAssembly goes on quietly; a module missing from the install is a
      // broken build, said once, as the work goes on without it (slower).
      if ((err as NodeJS.ErrnoException).code === "ENOENT")
        process.emitWarning(`${fileURLToPath(file)} is missing: working without it, slower`, {
          code: "SIPBAN_WASM_MISSING",
        });
      module = null;
    }
    compiled.set(name, module);
  }
  return module;
}
