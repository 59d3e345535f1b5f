import { wasmModule } from "./wasm-module.js";

/**
 * The report's WebAssembly module (assembly/offenders-json.ts, assembly/first-bans.ts and
 * assembly/offender-sums.ts): each use makes an instance of its own, with a memory of its own
 * (see wasmModule).
 */
export function reportWasm(): WebAssembly.Module | null {
  return wasmModule("report.wasm");
}
