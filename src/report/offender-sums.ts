import { reportWasm } from "../util/report-wasm.js";
import { Layout, reserveMemory } from "../util/wasm-module.js";
import type { FailureColumns } from "./failure-log.js";
import { REASON_SLOTS, SERVICE_SLOTS } from "./offenders.js";

/** Each address's sums, by address number (see OffenderReport). */
export interface OffenderSums {
  failures: Float64Array;
  firstSeen: Float64Array;
  lastSeen: Float64Array;
  seen: Uint8Array;
  reasonIds: Int32Array;
  reasonCounts: Float64Array;
  serviceIds: Uint8Array;
  /** Every failure's attempts, summed in the order counted. */
  total: number;
  /**
   * The failures whose reason found no free slot, in the order counted: for entry k, its
   * address at 2k and its reason at 2k + 1 (moreIds), and its attempts (moreAttempts).
   */
  moreIds: Int32Array;
  moreAttempts: Float64Array;
}

interface Exports {
  memory: WebAssembly.Memory;
  dataEnd(): number;
  sumOffenders(
    marks: number,
    offenders: number,
    attempts: number,
    reasons: number,
    services: number,
    counted: number,
    count: number,
    failures: number,
    firstSeen: number,
    lastSeen: number,
    seen: number,
    reasonIds: number,
    reasonCounts: number,
    serviceIds: number,
    more: number,
    total: number,
  ): number;
}

/**
 * The report's sums of the failures counted, in WebAssembly (assembly/offender-sums.ts): the
 * same as OffenderReport sums in JavaScript, which runs once over hundreds of thousands of
 * failures, mostly before it is compiled. Undefined where WebAssembly cannot run, or the
 * columns would not fit in a module's memory.
 */
export function sumOffenders(log: FailureColumns): OffenderSums | undefined {
  const module = reportWasm();
  if (module === null) return undefined;
  const wasm = new WebAssembly.Instance(module, {}).exports as unknown as Exports;
  const { marks, offenders, attempts, reasonIds, serviceIds, counted, countedSize: count } = log;
  const n = log.addressCount;
  const size = offenders.length;
  const layout = new Layout(wasm.dataEnd());
  const marksAt = layout.place(16 * size);
  const attemptsAt = layout.place(8 * size);
  const offendersAt = layout.place(4 * size);
  const reasonsAt = layout.place(4 * size);
  const countedAt = layout.place(4 * count);
  const servicesAt = layout.place(size);
  const failuresAt = layout.place(8 * n);
  const firstSeenAt = layout.place(8 * n);
  const lastSeenAt = layout.place(8 * n);
  const reasonCountsAt = layout.place(8 * REASON_SLOTS * n);
  const reasonIdsAt = layout.place(4 * REASON_SLOTS * n);
  const seenAt = layout.place(n);
  const serviceIdsAt = layout.place(SERVICE_SLOTS * n);
  const totalAt = layout.place(8);
  const moreAt = layout.place(16 * count);
  if (!reserveMemory(wasm.memory, layout.end)) return undefined;
  const buffer = wasm.memory.buffer;
  new Float64Array(buffer, marksAt, 2 * size).set(marks);
  new Float64Array(buffer, attemptsAt, size).set(attempts);
  new Int32Array(buffer, offendersAt, size).set(offenders);
  new Int32Array(buffer, reasonsAt, size).set(reasonIds);
  new Int32Array(buffer, countedAt, count).set(counted.subarray(0, count));
  new Uint8Array(buffer, servicesAt, size).set(serviceIds);
  const more = wasm.sumOffenders(
    marksAt,
    offendersAt,
    attemptsAt,
    reasonsAt,
    servicesAt,
    countedAt,
    count,
    failuresAt,
    firstSeenAt,
    lastSeenAt,
    seenAt,
    reasonIdsAt,
    reasonCountsAt,
    serviceIdsAt,
    moreAt,
    totalAt,
  );
  const moreIds = new Int32Array(2 * more);
  const moreAttempts = new Float64Array(more);
  const entries = new Int32Array(buffer, moreAt, 4 * more);
  const entryAttempts = new Float64Array(buffer, moreAt, 2 * more);
  for (let k = 0; k < more; k++) {
    moreIds[2 * k] = entries[4 * k]!;
    moreIds[2 * k + 1] = entries[4 * k + 1]!;
    moreAttempts[k] = entryAttempts[2 * k + 1]!;
  }
  // Views, not copies: a flood of a million addresses made copying them cost more than the sums
  // saved. The instance's memory lives as long as they do, and it does not grow any more.
  return {
    failures: new Float64Array(buffer, failuresAt, n),
    firstSeen: new Float64Array(buffer, firstSeenAt, n),
    lastSeen: new Float64Array(buffer, lastSeenAt, n),
    seen: new Uint8Array(buffer, seenAt, n),
    reasonIds: new Int32Array(buffer, reasonIdsAt, REASON_SLOTS * n),
    reasonCounts: new Float64Array(buffer, reasonCountsAt, REASON_SLOTS * n),
    serviceIds: new Uint8Array(buffer, serviceIdsAt, SERVICE_SLOTS * n),
    total: new Float64Array(buffer, totalAt, 1)[0]!,
    moreIds,
    moreAttempts,
  };
}
