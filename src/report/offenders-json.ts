import { reportWasm } from "../util/report-wasm.js";
import { align8, Layout, reserveMemory } from "../util/wasm-module.js";
import { MAX_USERS } from "./failure-log.js";
import { type OffenderReport, REASON_SLOTS, SERVICE_SLOTS } from "./offenders.js";

/**
 * The offender list of `scan --json` written in WebAssembly (assembly/offenders-json.ts) from the
 * report's columns: the same text as src/cli/scan-json.ts writes, at a fraction of the cost (a
 * writer in JavaScript runs once, on thousands of offenders, mostly before it is compiled).
 */

interface Exports {
  memory: WebAssembly.Memory;
  dataEnd(): number;
  setup(
    n: number,
    failures: number,
    firstSeen: number,
    lastSeen: number,
    banAt: number,
    seen: number,
    reasonIds: number,
    reasonCounts: number,
    serviceIds: number,
    userCounts: number,
    userSlots: number,
    ipTexts: number,
    reasonTexts: number,
    serviceTexts: number,
    userTexts: number,
    moreReasons: number,
  ): void;
  rank(order: number, scratch: number): number;
  writable(order: number, n: number): number;
  write(order: number, from: number, n: number, into: number, limit: number, written: number): number;
}

/**
 * Writes the report's offenders as the elements of `scan --json`'s "offenders" list, in the
 * report's order (see OffenderReport.ranked), in pieces of about `pieceBytes`; each piece is
 * passed to `write` as bytes of its own. Returns how many offenders were written, or undefined,
 * having written nothing, when this cannot write them as the JavaScript writer does: no
 * WebAssembly here, a reason that is an array index (JSON.stringify moves it first), a count
 * that is not a whole number, a date outside years 0 to 9999, more than a module's memory holds.
 */
export function writeOffendersJson(
  report: OffenderReport,
  write: (bytes: Buffer) => void,
  pieceBytes: number,
): number | undefined {
  const module = reportWasm();
  if (module === null) return undefined;
  const log = report.failureLog;
  // JSON.stringify writes keys that are array indexes first ("404" from a custom rule's reason).
  for (let id = 0; id < log.reasons.size; id++) if (isArrayIndex(log.reasons.text(id))) return undefined;
  const columns = report.columns();
  const wasm = new WebAssembly.Instance(module, {}).exports as unknown as Exports;
  const { userCounts, userSlots } = log.userColumns();
  const n = columns.seen.length;

  // The columns, the tables of where each text is, the order and its scratch, then the texts.
  const layout = new Layout(wasm.dataEnd());
  const failuresAt = layout.place(8 * n);
  const firstSeenAt = layout.place(8 * n);
  const lastSeenAt = layout.place(8 * n);
  const banAtAt = layout.place(8 * n);
  const reasonCountsAt = layout.place(8 * REASON_SLOTS * n);
  const reasonIdsAt = layout.place(4 * REASON_SLOTS * n);
  const userSlotsAt = layout.place(4 * MAX_USERS * n);
  const ipTextsAt = layout.place(8 * n);
  const reasonTextsAt = layout.place(8 * log.reasons.size);
  const serviceTextsAt = layout.place(8 * log.services.size);
  const userTextsAt = layout.place(8 * log.users.size);
  // The reasons past an address's slots: per address, where its entries start and how many;
  // per entry, its reason number and (8 bytes on) its count.
  let moreCount = 0;
  let mostReasons = REASON_SLOTS;
  for (const pairs of columns.moreReasons.values()) {
    moreCount += pairs.length / 2;
    mostReasons = Math.max(mostReasons, REASON_SLOTS + pairs.length / 2);
  }
  const moreReasonsAt = layout.place(8 * n);
  const moreEntriesAt = layout.place(16 * moreCount);
  const orderAt = layout.place(4 * n);
  const scratchAt = layout.place(4 * n);
  const writtenAt = layout.place(4);
  const seenAt = layout.place(n);
  const userCountsAt = layout.place(n);
  const serviceIdsAt = layout.place(SERVICE_SLOTS * n);
  const memory = new ModuleMemory(wasm.memory, layout.end);
  if (!memory.reserveTo(layout.end)) return undefined;
  new Float64Array(memory.buffer, failuresAt, n).set(columns.failures);
  new Float64Array(memory.buffer, firstSeenAt, n).set(columns.firstSeen);
  new Float64Array(memory.buffer, lastSeenAt, n).set(columns.lastSeen);
  new Float64Array(memory.buffer, banAtAt, n).set(columns.banAt);
  new Float64Array(memory.buffer, reasonCountsAt, REASON_SLOTS * n).set(columns.reasonCounts);
  new Int32Array(memory.buffer, reasonIdsAt, REASON_SLOTS * n).set(columns.reasonIds);
  new Int32Array(memory.buffer, userSlotsAt, MAX_USERS * n).set(userSlots.subarray(0, MAX_USERS * n));
  new Uint8Array(memory.buffer, seenAt, n).set(columns.seen);
  new Uint8Array(memory.buffer, userCountsAt, n).set(userCounts.subarray(0, n));
  new Uint8Array(memory.buffer, serviceIdsAt, SERVICE_SLOTS * n).set(columns.serviceIds);
  let entry = 0;
  for (const [i, pairs] of columns.moreReasons) {
    memory.setPair(moreReasonsAt + 8 * i, moreEntriesAt + 16 * entry, pairs.length / 2);
    for (let k = 0; k < pairs.length; k += 2, entry++) {
      memory.setPair(moreEntriesAt + 16 * entry, pairs[k]!, 0);
      new Float64Array(memory.buffer, moreEntriesAt + 16 * entry + 8, 1)[0] = pairs[k + 1]!;
    }
  }

  // Each text as a JSON string, once: every address, reason and service, and the users listed.
  // Each table's texts are written to the memory in one piece: a write per text cost more than
  // the rest of this function, run once a scan and mostly before it is compiled.
  let longest = 0;
  let full = false;
  const put = (table: number, ids: ArrayLike<number> | null, texts: readonly string[]) => {
    // In slices: a flood's texts joined whole could pass the longest string V8 makes.
    for (let from = 0; from < texts.length && !full; from += TEXTS_PER_WRITE) {
      const quoted = texts.slice(from, from + TEXTS_PER_WRITE).map((text) => JSON.stringify(text));
      const joined = quoted.join("");
      const bytes = memory.put(joined);
      if (bytes < 0) {
        full = true;
        return;
      }
      // Quoted texts are well formed (lone surrogates escaped): joined, each encodes as alone.
      const ascii = bytes === joined.length;
      let at = memory.end - bytes;
      for (let k = 0; k < quoted.length; k++) {
        const length = ascii ? quoted[k]!.length : Buffer.byteLength(quoted[k]!);
        memory.setPair(table + 8 * (ids === null ? from + k : ids[from + k]!), at, length);
        at += length;
        longest = Math.max(longest, length);
      }
    }
  };
  put(
    ipTextsAt,
    null,
    Array.from({ length: n }, (_, i) => log.ipOf(i)),
  );
  const longestIp = longest;
  put(
    reasonTextsAt,
    null,
    Array.from({ length: log.reasons.size }, (_, id) => log.reasons.text(id)),
  );
  put(
    serviceTextsAt,
    null,
    Array.from({ length: log.services.size }, (_, id) => log.services.text(id)),
  );
  const listed = new Uint8Array(log.users.size);
  const userIds: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let k = i * MAX_USERS; k < i * MAX_USERS + userCounts[i]!; k++) {
      const id = userSlots[k]!;
      if (listed[id] === 0) {
        listed[id] = 1;
        userIds.push(id);
      }
    }
  }
  put(
    userTextsAt,
    userIds,
    userIds.map((id) => log.users.text(id)),
  );

  if (full) return undefined;
  wasm.setup(
    n,
    failuresAt,
    firstSeenAt,
    lastSeenAt,
    banAtAt,
    seenAt,
    reasonIdsAt,
    reasonCountsAt,
    serviceIdsAt,
    userCountsAt,
    userSlotsAt,
    ipTextsAt,
    reasonTextsAt,
    serviceTextsAt,
    userTextsAt,
    moreReasonsAt,
  );
  const count = wasm.rank(orderAt, scratchAt);
  if (wasm.writable(orderAt, count) === 0) return undefined;
  // A piece ends after the offender that passes pieceBytes: room for one more of the largest.
  const largest = 1024 + longestIp + (mostReasons + MAX_USERS + SERVICE_SLOTS) * (longest + 32);
  const outAt = align8(memory.end);
  if (!memory.reserveTo(outAt + pieceBytes + largest)) return undefined;
  for (let k = 0; k < count; ) {
    // At least one offender a piece, however small the pieces asked.
    k = wasm.write(orderAt, k, count, outAt, Math.max(pieceBytes, 1), writtenAt);
    const bytes = new Uint32Array(memory.buffer, writtenAt, 1)[0]!;
    // A copy: the next piece is written over this one, and a pipe may not have taken it yet.
    write(Buffer.from(new Uint8Array(memory.buffer, outAt, bytes)));
  }
  return count;
}

/** How many texts the writer joins into one write (see writeOffendersJson's `put`). */
export const TEXTS_PER_WRITE = 4096;

/** The module's memory, with texts appended at its end as they come. */
class ModuleMemory {
  private view: Buffer;
  private pairs: Uint32Array;

  constructor(
    private readonly memory: WebAssembly.Memory,
    /** Where the next text goes. */
    public end: number,
  ) {
    this.view = Buffer.from(memory.buffer);
    this.pairs = new Uint32Array(memory.buffer);
  }

  get buffer(): ArrayBuffer {
    return this.memory.buffer;
  }

  /** Makes room for the memory to hold `size` bytes: false when it cannot. */
  reserveTo(size: number): boolean {
    if (size <= this.memory.buffer.byteLength) return true;
    if (!reserveMemory(this.memory, size)) return false;
    this.view = Buffer.from(this.memory.buffer);
    this.pairs = new Uint32Array(this.memory.buffer);
    return true;
  }

  /** Appends `text` as UTF-8 at `end`: returns its length in bytes (-1: the memory is full). */
  put(text: string): number {
    // No UTF-16 unit takes more than 3 bytes.
    if (!this.reserveTo(this.end + 3 * text.length)) return -1;
    const length = this.view.write(text, this.end, "utf8");
    this.end += length;
    return length;
  }

  /** Writes two u32 at `at` (aligned to 4). */
  setPair(at: number, first: number, second: number): void {
    this.pairs[at >>> 2] = first;
    this.pairs[(at >>> 2) + 1] = second;
  }
}

/** True for a key JSON.stringify writes before the others: an array index ("0" to "4294967294"). */
export function isArrayIndex(key: string): boolean {
  const first = key.charCodeAt(0);
  return first >= 0x30 && first <= 0x39 && /^(?:0|[1-9]\d{0,9})$/.test(key) && Number(key) < 4_294_967_295;
}
