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

/** The unit a module's memory grows by. */
export const WASM_PAGE = 65_536;

/** The most a module's memory can hold (wasm32): 65,536 pages. */
const MAX_MEMORY = 65_536 * WASM_PAGE;

/**
 * Grows `memory` to hold at least `size` bytes (doubling it when that fits): false when it
 * cannot hold them, and the caller does the work in JavaScript.
 */
export function reserveMemory(memory: WebAssembly.Memory, size: number): boolean {
  const have = memory.buffer.byteLength;
  if (size <= have) return true;
  if (size > MAX_MEMORY) return false;
  try {
    memory.grow(Math.ceil((Math.min(Math.max(size, 2 * have), MAX_MEMORY) - have) / WASM_PAGE));
    return true;
  } catch {
    return false;
  }
}

/** `n` rounded up to a multiple of 8. */
export function align8(n: number): number {
  // Not a bitwise mask: offsets past 2 GiB would turn negative.
  return Math.ceil(n / 8) * 8;
}

/** Regions of a module's memory, placed one after another from `start`, each aligned to 8. */
export class Layout {
  /** Where the next region goes: past all placed so far. */
  end: number;

  constructor(start: number) {
    this.end = align8(start);
  }

  /** Places a region of `bytes`: returns where it starts. */
  place(bytes: number): number {
    const start = this.end;
    this.end = align8(start + bytes);
    return start;
  }
}
