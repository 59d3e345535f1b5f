// When each address of a scan would first be banned: the replay of src/policy/policy.ts's
// firstBanAt over every address's failures, in time order, as src/report/failure-log.ts groups
// them (src/policy/first-bans.ts is the host; test/first-bans.test.ts holds the two together).
// Compiled into one module with assembly/offenders-json.ts (which exports the module's dataEnd).
//
// Memory, laid out by the host; by failure index f (as the log adds them):
//   marks:     2 × f64: the failure's time, then what it adds to the count (Infinity: bans at once)
//   offenders: i32: its address's number
// and counted: i32 per failure counted, its index, in the order counted; skip: u8 per address,
// 1 for one the policy never bans (allowlisted); banAt: f64 per address, written here (NaN: none).

/**
 * Writes banAt for the `addresses` addresses from the `count` failures counted, with the policy's
 * `maxretry` and `findtime` (ms); returns how many failures the skipped addresses had.
 * `starts` (addresses + 1 × i32), `order` and `scratch` (count × i32 each) are room to work in.
 */
export function firstBans(
  marks: usize,
  offenders: usize,
  counted: usize,
  count: i32,
  addresses: i32,
  skip: usize,
  maxretry: f64,
  findtime: f64,
  banAt: usize,
  starts: usize,
  order: usize,
  scratch: usize,
): i32 {
  // Grouped by address (a counting sort), each group in the order counted.
  memory.fill(starts, 0, (<usize>addresses + 1) << 2);
  for (let k: i32 = 0; k < count; k++) {
    const f = load<i32>(counted + (<usize>k << 2));
    const at = starts + ((<usize>load<i32>(offenders + (<usize>f << 2)) + 1) << 2);
    store<i32>(at, load<i32>(at) + 1);
  }
  for (let a: i32 = 1; a <= addresses; a++) {
    const at = starts + (<usize>a << 2);
    store<i32>(at, load<i32>(at) + load<i32>(at - 4));
  }
  // `scratch` first holds where each group's next index goes.
  memory.copy(scratch, starts, <usize>addresses << 2);
  for (let k: i32 = 0; k < count; k++) {
    const f = load<i32>(counted + (<usize>k << 2));
    const next = scratch + (<usize>load<i32>(offenders + (<usize>f << 2)) << 2);
    const slot = load<i32>(next);
    store<i32>(order + (<usize>slot << 2), f);
    store<i32>(next, slot + 1);
  }
  let skipped: i32 = 0;
  for (let a: i32 = 0; a < addresses; a++) {
    const from = load<i32>(starts + (<usize>a << 2));
    const to = load<i32>(starts + (<usize>(a + 1) << 2));
    store<f64>(banAt + (<usize>a << 3), NaN);
    if (to == from) continue;
    if (load<u8>(skip + <usize>a) != 0) {
      skipped += to - from;
      continue;
    }
    sortByTime(marks, order, scratch, from, to);
    store<f64>(banAt + (<usize>a << 3), firstBanAt(marks, order, from, to, maxretry, findtime));
  }
  return skipped;
}

@inline
function timeOf(marks: usize, f: i32): f64 {
  return load<f64>(marks + (<usize>f << 4));
}

/** What failure f adds to the count. */
@inline
function amountOf(marks: usize, f: i32): f64 {
  return load<f64>(marks + (<usize>f << 4) + 8);
}

@inline
function at(array: usize, k: i32): i32 {
  return load<i32>(array + (<usize>k << 2));
}

/** The policy's firstBanAt: the time of the failure that earns the ban, or NaN. */
function firstBanAt(marks: usize, order: usize, from: i32, to: i32, maxretry: f64, findtime: f64): f64 {
  let oldest = from;
  for (let k = from; k < to; k++) {
    const now = timeOf(marks, at(order, k));
    const horizon = now - findtime;
    while (timeOf(marks, at(order, oldest)) < horizon) oldest++;
    let sum: f64 = 0;
    // Summed afresh in the same order as the policy, so that the same sum meets the threshold.
    for (let j = oldest; j <= k; j++) sum += amountOf(marks, at(order, j));
    if (sum >= maxretry) return now;
  }
  return NaN;
}

/**
 * Puts order[from, to) in time order, ties in the order they are in (a stable merge sort, as
 * the typed array sort the log uses): threads stamp lines slightly out of order, and rotated
 * files may come in any order. Most groups are in order already.
 */
function sortByTime(marks: usize, order: usize, scratch: usize, from: i32, to: i32): void {
  let sorted = true;
  for (let k = from + 1; k < to && sorted; k++)
    sorted = !(timeOf(marks, at(order, k)) < timeOf(marks, at(order, k - 1)));
  if (sorted) return;
  const n = to - from;
  let src = order + (<usize>from << 2);
  let dst = scratch;
  for (let width: i32 = 1; width < n; width <<= 1) {
    for (let start: i32 = 0; start < n; start += width << 1) {
      const middle = min(start + width, n);
      const end = min(start + (width << 1), n);
      let a = start;
      let b = middle;
      for (let k = start; k < end; k++) {
        let fromA: bool;
        if (a >= middle) fromA = false;
        else if (b >= end) fromA = true;
        // Ties keep the earlier run's first. (A time that is NaN, which a scan never has, may
        // end up elsewhere than the host's sort puts it.)
        else fromA = !(timeOf(marks, at(src, b)) < timeOf(marks, at(src, a)));
        const take = fromA ? a++ : b++;
        store<i32>(dst + (<usize>k << 2), at(src, take));
      }
    }
    const t = src;
    src = dst;
    dst = t;
  }
  if (src != order + (<usize>from << 2)) memory.copy(order + (<usize>from << 2), src, <usize>n << 2);
}
