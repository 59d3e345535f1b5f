import { reportWasm } from "../util/report-wasm.js";
import { Layout, reserveMemory } from "../util/wasm-module.js";

/**
 * A scan's failures as columns (see FailureLog.columns), for a replay of them all. The columns
 * by failure index hold every failure added, counted or not, and nothing past them.
 */
export interface CountedFailures {
  /** By failure index: its time at 2i, what it adds to the count at 2i + 1 (see FailureSeries). */
  marks: Float64Array;
  /** By failure index: its address's number. */
  offenders: Int32Array;
  /** The indexes of the failures counted, in the order counted: counted[0, countedSize). */
  counted: Int32Array;
  countedSize: number;
  /** Addresses are numbered 0 to addressCount - 1. */
  addressCount: number;
}

interface Exports {
  memory: WebAssembly.Memory;
  dataEnd(): number;
  firstBans(
    marks: number,
    offenders: number,
    counted: number,
    count: number,
    addresses: number,
    skip: number,
    maxretry: number,
    findtime: number,
    banAt: number,
    starts: number,
    order: number,
    scratch: number,
  ): number;
}

/**
 * When each address would first be banned (NaN: never), by the policy's firstBanAt over each
 * address's failures in time order, replayed in WebAssembly (assembly/first-bans.ts), and how
 * many failures the addresses in `skip` had; undefined where WebAssembly cannot run.
 */
export function replayFirstBans(
  failures: CountedFailures,
  skip: Uint8Array,
  maxretry: number,
  findtimeMs: number,
): { banAt: Float64Array; skipped: number } | undefined {
  const module = reportWasm();
  if (module === null) return undefined;
  const wasm = new WebAssembly.Instance(module, {}).exports as unknown as Exports;
  const { marks, offenders, counted, countedSize: count, addressCount: n } = failures;
  const size = offenders.length;
  const layout = new Layout(wasm.dataEnd());
  const marksAt = layout.place(16 * size);
  const banAtAt = layout.place(8 * n);
  const offendersAt = layout.place(4 * size);
  const countedAt = layout.place(4 * count);
  const startsAt = layout.place(4 * (n + 1));
  const orderAt = layout.place(4 * count);
  const scratchAt = layout.place(4 * Math.max(count, n));
  const skipAt = layout.place(n);
  if (!reserveMemory(wasm.memory, layout.end)) return undefined;
  const buffer = wasm.memory.buffer;
  new Float64Array(buffer, marksAt, 2 * size).set(marks);
  new Int32Array(buffer, offendersAt, size).set(offenders);
  new Int32Array(buffer, countedAt, count).set(counted.subarray(0, count));
  new Uint8Array(buffer, skipAt, n).set(skip);
  const skipped = wasm.firstBans(
    marksAt,
    offendersAt,
    countedAt,
    count,
    n,
    skipAt,
    maxretry,
    findtimeMs,
    banAtAt,
    startsAt,
    orderAt,
    scratchAt,
  );
  return { banAt: new Float64Array(buffer, banAtAt, n).slice(), skipped };
}
