import type { ParserPhrases } from "../sources/line-search.js";
import { utf8 } from "../util/decode.js";
import { address, cap, type Rule, type RuleHit } from "./rule.js";
import { PARSED_RULES, type ParsedRule } from "./rules/asterisk.js";

// A record's fields, as assembly/line-parse.ts writes them (positions are offsets in the chunk;
// each text is a position followed by a length).
const RULE = 0;
const REASON = 1;
const STAMP_AT = 2;
const STAMP_SAME = 4;
const ADDR_AT = 5;
const ADDR_ID = 7;
const USER_AT = 8;
const USER_LEN = 9;
const USER_ID = 10;
const METHOD_AT = 11;
const METHOD_LEN = 12;
const METHOD_ID = 13;
const CALLID_AT = 14;

/** The rule number the parser writes for PJSIP's request (the only one with a method and Call-ID). */
const PJSIP_REQUEST = 2;
/** What the parser writes for a line that holds none of `eventLiterals`. */
const PLAIN = 10;

/** Where `read` writes a record's hit: a rule's hit, field by field. */
export type HitFields = Pick<RuleHit, "ip" | "port" | "reason" | "user" | "callId">;

/** Numbers for texts, given in the order first seen (see TextNumbers). */
interface Numbering {
  id(text: string): number;
}

/**
 * Where a detector adds the failures of parsed lines without making an event for each (see
 * FailureLog): texts go in as numbers, and a failure is added when read and counted only when
 * the split guard lets its line through.
 */
export interface ParsedFailureSink {
  address(ip: string): number;
  readonly reasons: Numbering;
  readonly services: Numbering;
  readonly users: Numbering;
  /** False when a user name tried from the address can no longer be listed: -1 will do. */
  userMatters(offender: number): boolean;
  /** Adds a failure of one attempt: returns its index, for `count`. */
  addParsed(
    offender: number,
    time: number,
    weight: number,
    reason: number,
    service: number,
    user: number,
  ): number;
  count(index: number): void;
}

/** Where `numbers` writes a record's address, reason and user (-1: none) numbers. */
export const OFFENDER = 0;
export const REASON_NUMBER = 1;
export const USER_NUMBER = 2;

const PARSED = new Set(PARSED_RULES.flatMap((p) => (p ? [p.rule] : [])));

/**
 * Turns the records of the WebAssembly parser (assembly/line-parse.ts) into what the rules would
 * have returned for the same lines: a rule and its hit. Texts the parser numbered (addresses,
 * users) are parsed or decoded once and kept by their number.
 *
 * A record is used only where it stands for the rule the detector would have picked: its rule
 * must come first, among the rules the configuration lists for the line's component, but for
 * other parsed rules (whose grammars exclude each other). A configuration that turns a parsed
 * rule off, say, leaves its lines to the rules.
 */
export class ParsedLines {
  readonly phrases: ParserPhrases;
  /** By rule number: the parsed rule, or undefined when its records are not used. */
  private readonly usable: Array<ParsedRule | undefined>;
  private readonly addresses: Array<{ ip: string; port?: number } | null | undefined> = [];
  private readonly users: Array<string | undefined> = [];
  /** PJSIP's reason with its method, by method number and reason index. */
  private readonly reasonsWithMethod = new Map<number, string>();
  private stamp = "";
  // The sink's numbers, kept by the parser's (+ 1; 0: not asked yet): asked once per text.
  private offenderNumbers: Int32Array = new Int32Array(1024);
  private userNumbers: Int32Array = new Int32Array(1024);
  private readonly reasonNumbers = new Map<number, number>();

  /**
   * `rulesOf(component)`: the rules the detector tries, in order, on a component's lines.
   * `eventLiterals`: every literal that can make a line more than a dated line to the detector
   * (see ParserPhrases).
   */
  constructor(rulesOf: (component: string) => readonly Rule[] | undefined, eventLiterals: readonly string[]) {
    this.usable = PARSED_RULES.map((parsed) =>
      parsed?.components.every((component) => {
        const rules = rulesOf(component) ?? [];
        const at = rules.indexOf(parsed.rule);
        return at !== -1 && rules.slice(0, at).every((r) => PARSED.has(r));
      })
        ? parsed
        : undefined,
    );
    this.phrases = {
      sipReasons: PARSED_RULES[1]!.reasons,
      pjsipReasons: PARSED_RULES[PJSIP_REQUEST]!.reasons,
      eventLiterals,
    };
  }

  /** True when no record can be used: the parser need not run. */
  get idle(): boolean {
    return this.usable.every((p) => p === undefined);
  }

  /**
   * True when the record at `at` is a line of the layout that holds none of the event literals:
   * to the detector, its date and nothing else.
   */
  plain(fields: Int32Array, at: number): boolean {
    return fields[at + RULE] === PLAIN;
  }

  /** The number the parser gives the rule of the record at `at` (1 to 9; see `rule`). */
  ruleNumber(fields: Int32Array, at: number): number {
    return fields[at + RULE]!;
  }

  /** The rule of the record at `at`, or undefined when the record is not to be used. */
  rule(fields: Int32Array, at: number): Rule | undefined {
    return this.usable[fields[at + RULE]!]?.rule;
  }

  /**
   * Writes the record's hit into `into`, field by field, as its rule would have returned it (no
   * object is made per line): false when the rule would not match (a bad address).
   */
  read(fields: Int32Array, at: number, chunk: Buffer, into: HitFields): boolean {
    const code = fields[at + RULE]!;
    const parsed = this.usable[code]!;
    const addr = this.address(fields, at, chunk, parsed.bareV6Port);
    if (addr === null) return false;
    const reason = parsed.reasons[fields[at + REASON]!]!;
    into.ip = addr.ip;
    into.port = addr.port;
    into.user = fields[at + USER_LEN]! < 0 ? undefined : this.user(fields, at, chunk, parsed.userCap);
    if (code === PJSIP_REQUEST) {
      into.reason = this.withMethod(fields, at, chunk, reason);
      into.callId = cap(text(fields, at + CALLID_AT, chunk), 128);
    } else {
      into.reason = reason;
      into.callId = undefined;
    }
    return true;
  }

  /**
   * Writes into `into` (see OFFENDER, REASON_NUMBER, USER_NUMBER) the sink's numbers for the
   * record's address, reason and user, as `read` would give their texts (the user -1 when the
   * sink no longer lists the address's users): false when the rule would not match (a bad
   * address).
   */
  numbers(fields: Int32Array, at: number, chunk: Buffer, sink: ParsedFailureSink, into: Int32Array): boolean {
    const code = fields[at + RULE]!;
    const parsed = this.usable[code]!;
    const addrId = fields[at + ADDR_ID]!;
    let offender =
      addrId >= 0 && addrId < this.offenderNumbers.length ? this.offenderNumbers[addrId]! - 1 : -1;
    if (offender < 0) {
      const addr = this.address(fields, at, chunk, parsed.bareV6Port);
      if (addr === null) return false;
      offender = sink.address(addr.ip);
      if (addrId >= 0) this.offenderNumbers = remember(this.offenderNumbers, addrId, offender);
    }
    into[OFFENDER] = offender;
    into[REASON_NUMBER] = this.reasonNumber(fields, at, chunk, sink, parsed, code);
    into[USER_NUMBER] =
      fields[at + USER_LEN]! < 0 || !sink.userMatters(offender)
        ? -1
        : this.userNumber(fields, at, chunk, sink, parsed.userCap);
    return true;
  }

  private reasonNumber(
    fields: Int32Array,
    at: number,
    chunk: Buffer,
    sink: ParsedFailureSink,
    parsed: ParsedRule,
    code: number,
  ): number {
    const reason = fields[at + REASON]!;
    const method = code === PJSIP_REQUEST && fields[at + METHOD_LEN]! > 0 ? fields[at + METHOD_ID]! : -1;
    if (code === PJSIP_REQUEST && fields[at + METHOD_LEN]! > 0 && method < 0)
      return sink.reasons.id(this.withMethod(fields, at, chunk, parsed.reasons[reason]!));
    // Method -1: none; the key tells rule, method and reason apart.
    const key = ((method + 1) * PARSED_RULES.length + code) * 64 + reason;
    let number = this.reasonNumbers.get(key);
    if (number === undefined) {
      const text = parsed.reasons[reason]!;
      number = sink.reasons.id(method >= 0 ? this.withMethod(fields, at, chunk, text) : text);
      this.reasonNumbers.set(key, number);
    }
    return number;
  }

  private userNumber(
    fields: Int32Array,
    at: number,
    chunk: Buffer,
    sink: ParsedFailureSink,
    limit: number,
  ): number {
    const id = fields[at + USER_ID]!;
    const known = id >= 0 && id < this.userNumbers.length ? this.userNumbers[id]! - 1 : -1;
    if (known >= 0) return known;
    const number = sink.users.id(this.user(fields, at, chunk, limit)!);
    if (id >= 0) this.userNumbers = remember(this.userNumbers, id, number);
    return number;
  }

  /** The record's date text, as the layout's prefix holds it. */
  dateText(fields: Int32Array, at: number, chunk: Buffer): string {
    if (fields[at + STAMP_SAME] === 0) this.stamp = text(fields, at + STAMP_AT, chunk);
    return this.stamp;
  }

  private address(
    fields: Int32Array,
    at: number,
    chunk: Buffer,
    bareV6Port: boolean,
  ): { ip: string; port?: number } | null {
    const id = fields[at + ADDR_ID]!;
    const known = kept(this.addresses, id);
    return known !== undefined
      ? known
      : keep(this.addresses, id, address(text(fields, at + ADDR_AT, chunk), bareV6Port));
  }

  private user(fields: Int32Array, at: number, chunk: Buffer, limit: number): string | undefined {
    const id = fields[at + USER_ID]!;
    return kept(this.users, id) ?? keep(this.users, id, cap(text(fields, at + USER_AT, chunk), limit));
  }

  /** PJSIP names the method in its reason: "Failed to authenticate (REGISTER)". */
  private withMethod(fields: Int32Array, at: number, chunk: Buffer, reason: string): string {
    const length = fields[at + METHOD_LEN]!;
    if (length <= 0) return reason;
    const id = fields[at + METHOD_ID]!;
    const key = id * this.phrases.pjsipReasons.length + fields[at + REASON]!;
    const known = id >= 0 ? this.reasonsWithMethod.get(key) : undefined;
    if (known !== undefined) return known;
    const withMethod = `${reason} (${text(fields, at + METHOD_AT, chunk)})`;
    if (id >= 0) this.reasonsWithMethod.set(key, withMethod);
    return withMethod;
  }
}

/** The text whose position is at `fields[field]` and length after it. */
function text(fields: Int32Array, field: number, chunk: Buffer): string {
  const at = fields[field]!;
  return utf8(chunk, at, at + fields[field + 1]!);
}

/** What is kept for a text's number (-1: a text the parser did not number, never kept). */
function kept<T>(table: Array<T | undefined>, id: number): T | undefined {
  return id >= 0 ? table[id] : undefined;
}

/** `table` (or a larger copy) with `number` + 1 kept at `id`. */
function remember(table: Int32Array, id: number, number: number): Int32Array {
  let t = table;
  if (id >= t.length) {
    t = new Int32Array(Math.max(id + 1, t.length * 2));
    t.set(table);
  }
  t[id] = number + 1;
  return t;
}

function keep<T>(table: Array<T | undefined>, id: number, value: T): T {
  if (id >= 0) table[id] = value;
  return value;
}
