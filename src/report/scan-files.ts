import type { FileHandle } from "node:fs/promises";
import type { Config } from "../config/schema.js";
import { Detector, type DetectorStats, emptyStats, type LineOutcome, ReadAgain } from "../detect/detector.js";
import type { Rule } from "../detect/rule.js";
import { buildRules } from "../detect/ruleset.js";
import { Allowlist } from "../policy/allowlist.js";
import { BanPolicy, type Decision, policyConfig } from "../policy/policy.js";
import { checkInput, openInput, scanInput } from "../sources/file-reader.js";
import { LineScanner } from "../sources/line-scanner.js";
import { FailureLog } from "./failure-log.js";
import { OffenderReport } from "./offenders.js";

/**
 * Log bytes per failure in a log under attack (a fifth of its lines are failures, of about 130
 * bytes): the failure log sets aside room by it (see FailureLog). A flood has more, and grows.
 */
const BYTES_PER_FAILURE = 640;

export interface ScanResult {
  files: string[];
  linesRead: number;
  report: OffenderReport;
  decisions: Decision[];
  stats: DetectorStats;
  allowlisted: number;
}

export interface ScanOptions {
  /** Called for every line looked at, with what became of it (`scan --explain`). */
  observe?: (line: string, outcome: LineOutcome) => void;
  /** Bans each address had before (from the store), for escalation. */
  history?: (ip: string, before: number) => number;
  /**
   * Return the ban decisions, with their evidence (`scan --ban`). Without it only the report
   * says who would be banned and when, and each failure's rule and line are not kept.
   */
  decisions?: boolean;
  /** false: every line goes through the rules, none through the WebAssembly parser (for comparisons). */
  parsedLines?: boolean;
}

/**
 * Reads whole log files and replays their failures through the ban policy, each address's in
 * time order: what `sipban scan` reports and what `scan --ban` applies.
 */
export async function scanFiles(
  paths: readonly string[],
  config: Config,
  options: ScanOptions = {},
): Promise<ScanResult> {
  const { history } = options;
  const rules = buildRules(config.detect);
  const totals = emptyStats();
  // One at a time (thousands of rotated files must not open at once), and each file once: a
  // file named twice (or through a link) would count its failures twice.
  const inputs: Array<{ path: string; mtime: number; again: boolean }> = [];
  const seen = new Set<string>();
  let bytes = 0;
  for (const path of paths) {
    const { mtime, identity, size } = await checkInput(path);
    if (identity !== undefined && seen.has(identity)) continue;
    if (identity !== undefined) seen.add(identity);
    // A file (not a pipe) can be read again.
    inputs.push({ path, mtime, again: identity !== undefined });
    // A rotated .gz holds about ten times its size in text.
    bytes += path.endsWith(".gz") ? 10 * size : size;
  }
  const log = new FailureLog({ details: options.decisions === true, capacity: bytes / BYTES_PER_FAILURE });
  let linesRead = 0;
  for (const { path, mtime, again } of inputs) {
    const mark = log.mark();
    // A file that may be read again is opened once, so that both readings read the same file
    // (a rotation in between would put another one at its path).
    const handle = again ? await openInput(path) : undefined;
    let file: FileScan;
    try {
      file = await scanFile(path, handle, mtime, rules, config, log, options, again);
    } catch (err) {
      if (!(err instanceof ReadAgain)) throw err;
      log.rollback(mark);
      file = await scanFile(path, handle, mtime, rules, config, log, options, false);
    } finally {
      await handle?.close();
    }
    linesRead += file.linesRead;
    for (const key of Object.keys(totals) as Array<keyof DetectorStats>) totals[key] += file.stats[key];
  }
  const report = new OffenderReport(log);
  const policy = new BanPolicy(policyConfig(config), new Allowlist(config.allowlist), history);
  const decisions: Decision[] = [];
  if (options.decisions) {
    log.forEachByAddress((e) => {
      const d = policy.onFailure(e);
      if (d) {
        report.markBan(d);
        decisions.push(d);
      }
    });
  } else {
    // The report shows an address's first ban only: when it comes is all that is asked.
    const banAt = policy.firstBans(log.columns(), (offender) => log.ipOf(offender));
    if (banAt) {
      for (let offender = 0; offender < banAt.length; offender++)
        if (!Number.isNaN(banAt[offender]!)) report.markBanAt(offender, banAt[offender]!);
    } else {
      log.forEachAddress((offender, failures) => {
        const at = policy.firstBanAt(report.ipOf(offender), failures);
        if (at !== undefined) report.markBanAt(offender, at);
      });
    }
  }
  decisions.sort((a, b) => a.at - b.at);
  return {
    files: inputs.map((input) => input.path),
    linesRead,
    report,
    decisions,
    stats: totals,
    allowlisted: policy.allowlisted,
  };
}

interface FileScan {
  linesRead: number;
  stats: DetectorStats;
}

/**
 * Reads one file's failures into `log`. `numbersOnly`: the failures of the lines the WebAssembly
 * parser reads go into the log as numbers, without an event each; the file may then have to be
 * read again (see ReadAgain). `handle`: the file, open (see scanInput).
 */
async function scanFile(
  path: string,
  handle: FileHandle | undefined,
  mtime: number,
  rules: readonly Rule[],
  config: Config,
  log: FailureLog,
  options: ScanOptions,
  numbersOnly: boolean,
): Promise<FileScan> {
  // Evidence keeps each failure's line: only a plain report can do without the text.
  const parsedLines = options.parsedLines !== false && !options.decisions;
  // One detector per file: split records and duplicate lines do not span files.
  const detector = new Detector(
    {
      rules,
      weights: config.detect.weights,
      banInjection: config.detect.banInjection,
      dateformat: config.detect.dateformat,
      referenceTime: mtime,
      observe: options.observe,
      parsedLines,
      parsedFailures: parsedLines && numbersOnly ? log : undefined,
    },
    (e) => log.add(e),
  );
  const scanner = new LineScanner((sample) => detector.literalsFor(sample), detector);
  await scanInput(path, scanner, handle);
  detector.flush();
  const stats = { ...detector.stats };
  stats.oversized += scanner.oversized;
  return { linesRead: scanner.linesRead, stats };
}
