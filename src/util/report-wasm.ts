import { wasmModule } from "./wasm-module.js";

/**
 * The report's WebAssembly module (assembly/offenders-json.ts, assembly/first-bans.ts and
 * assembly/offender-sums.ts): each use makes an instance of its own, with a memory of its own
 * (see wasmModule).
 */
export function reportWasm(): WebAssembly.Module | null {
  return wasmModule("report.wasm");
}

const PAGE = 65_536;

/** The most a module's memory can hold (wasm32): 65,536 pages. */
const MAX_MEMORY = 65_536 * PAGE;

/**
 * Grows `memory` to hold at least `size` bytes (doubling it when that fits): false when it
 * cannot hold them, and the caller does the work in JavaScript.
 */
export function reserveMemory(memory: WebAssembly.Memory, size: number): boolean {
  const have = memory.buffer.byteLength;
  if (size <= have) return true;
  if (size > MAX_MEMORY) return false;
  try {
    memory.grow(Math.ceil((Math.min(Math.max(size, 2 * have), MAX_MEMORY) - have) / PAGE));
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
