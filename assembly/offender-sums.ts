// The offender report's sums: each address's failures, first and last time, reasons with their
// counts and services, from the failure log's columns, in the order the failures were counted
// (src/report/offender-sums.ts is the host; src/report/offenders.ts sums the same in JavaScript
// where this cannot run, and test/offender-sums.test.ts holds the two together). Compiled into
// one module with assembly/offenders-json.ts (which exports the module's dataEnd).
//
// Memory, laid out by the host; by failure index f (as the log adds them):
//   marks:     2 × f64: the failure's time (then what it adds to the policy's count, not read here)
//   offenders: i32: its address's number;  attempts: f64;  reasons: i32;  services: u8
// and counted: i32 per failure counted, its index, in the order counted. Written here, by address
// number a (all zero beforehand):
//   failures, firstSeen, lastSeen: f64;  seen: u8, 1 for an address with a failure counted
//   reasonIds: REASON_SLOTS × i32, reason number + 1 (0: free);  reasonCounts: REASON_SLOTS × f64
//   serviceIds: SERVICE_SLOTS × u8, service number + 1 (0: free)
//   more: 16 bytes per failure whose reason found no free slot, in the order counted: its address
//         (i32), its reason (i32), its attempts (f64); the host folds them into its lists.

// As src/report/offenders.ts.
const REASON_SLOTS: usize = 4;
const SERVICE_SLOTS: usize = 16;

/**
 * Sums the `count` failures counted into the columns above; returns how many entries went to
 * `more`. The sum of every failure's attempts, in the order counted, is written at `total` (f64).
 */
export function sumOffenders(
  marks: usize,
  offenders: usize,
  attempts: usize,
  reasons: usize,
  services: usize,
  counted: usize,
  count: i32,
  failures: usize,
  firstSeen: usize,
  lastSeen: usize,
  seen: usize,
  reasonIds: usize,
  reasonCounts: usize,
  serviceIds: usize,
  more: usize,
  total: usize,
): i32 {
  let sum: f64 = 0;
  let moreCount: i32 = 0;
  for (let k: i32 = 0; k < count; k++) {
    const f = <usize>load<i32>(counted + (<usize>k << 2));
    const a = <usize>load<i32>(offenders + (f << 2));
    const time = load<f64>(marks + (f << 4));
    const n = load<f64>(attempts + (f << 3));
    sum += n;
    if (load<u8>(seen + a) == 0) {
      store<u8>(seen + a, 1);
      store<f64>(firstSeen + (a << 3), time);
      store<f64>(lastSeen + (a << 3), time);
    } else {
      // As the host's comparisons: a NaN time changes neither.
      if (time < load<f64>(firstSeen + (a << 3))) store<f64>(firstSeen + (a << 3), time);
      if (time > load<f64>(lastSeen + (a << 3))) store<f64>(lastSeen + (a << 3), time);
    }
    store<f64>(failures + (a << 3), load<f64>(failures + (a << 3)) + n);
    const reason = load<i32>(reasons + (f << 2));
    const slot = reasonSlot(reasonIds, a * REASON_SLOTS, reason + 1);
    if (slot >= 0) {
      store<i32>(reasonIds + (<usize>slot << 2), reason + 1);
      const at = reasonCounts + (<usize>slot << 3);
      store<f64>(at, load<f64>(at) + n);
    } else {
      const entry = more + (<usize>moreCount << 4);
      store<i32>(entry, <i32>a);
      store<i32>(entry + 4, reason);
      store<f64>(entry + 8, n);
      moreCount++;
    }
    const service = <u8>(load<u8>(services + f) + 1);
    for (let s = a * SERVICE_SLOTS; s < (a + 1) * SERVICE_SLOTS; s++) {
      const held = load<u8>(serviceIds + s);
      if (held == service) break;
      if (held == 0) {
        store<u8>(serviceIds + s, service);
        break;
      }
    }
  }
  store<f64>(total, sum);
  return moreCount;
}

/** The slot from `first` on that holds `id`, else the first free one, else -1 (all taken by others). */
@inline
function reasonSlot(reasonIds: usize, first: usize, id: i32): i32 {
  for (let s = first; s < first + REASON_SLOTS; s++) {
    const held = load<i32>(reasonIds + (s << 2));
    if (held == id || held == 0) return <i32>s;
  }
  return -1;
}
