import { readFileSync } from "node:fs";

/**
 * The report's WebAssembly module (assembly/offenders-json.ts and assembly/first-bans.ts),
 * compiled once; each use makes an instance of its own, with a memory of its own. Null where
 * WebAssembly cannot run (or the module was not built): the callers then do the same in
 * JavaScript.
 */
let compiled: WebAssembly.Module | null | undefined;

export function reportWasm(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(readFileSync(new URL("../../assembly/report.wasm", import.meta.url)));
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

const PAGE = 65_536;

/** Grows `memory` to hold at least `size` bytes (at least doubling it, when it grows). */
export function reserveMemory(memory: WebAssembly.Memory, size: number): void {
  const have = memory.buffer.byteLength;
  if (size > have) memory.grow(Math.ceil((Math.max(size, 2 * have) - have) / PAGE));
}

/** `n` rounded up to a multiple of 8. */
export function align8(n: number): number {
  return (n + 7) & ~7;
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
