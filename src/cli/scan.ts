import { existsSync } from "node:fs";
import type { Command } from "commander";
import { DateFormat } from "../detect/dateformat.js";
import type { LineOutcome } from "../detect/detector.js";
import { durationProblem, formatMs, parseDuration } from "../policy/policy.js";
import { type ScanResult, scanFiles } from "../report/scan-files.js";
import { InputError } from "../sources/file-reader.js";
import { counted } from "../util/counted.js";
import { resolveConfig } from "./config-option.js";
import type { BanContext } from "./context.js";
import { clip, formatTime, printable, table } from "./format.js";
import { type PolicyView, writeScanJson } from "./scan-json.js";

const DEFAULT_LOGS = ["/var/log/asterisk/messages", "/var/log/asterisk/messages.log"];

interface ScanOptions {
  json?: boolean;
  explain?: boolean;
  maxretry?: string;
  findtime?: string;
  dateformat?: string;
  ban?: boolean;
}

export function registerScan(program: Command): void {
  program
    .command("scan")
    .description("read whole log files and report who is attacking (the cron use)")
    .argument("[files...]", "log files, rotated .gz files, or - for standard input", [])
    .option("--json", "print a JSON report for scripts")
    .option(
      "--explain",
      "show which rule matched each line, and lines that look like failures but matched none",
    )
    .option("--maxretry <n>", "failures that earn a ban (default from the configuration: 5)")
    .option("--findtime <duration>", "window the failures must fall in, e.g. 10m")
    .option(
      "--dateformat <format>",
      "Asterisk's dateformat from logger.conf, when the dates are in none sipban reads by itself",
    )
    .option(
      "--ban",
      "ban what the policy decides (for cron: running it again on the same log changes nothing)",
    )
    .action(async (files: string[], options: ScanOptions, command: Command) => {
      const config = await resolveConfig(command.optsWithGlobals().config);
      if (options.maxretry !== undefined) {
        const n = Number(options.maxretry);
        if (!Number.isFinite(n) || n <= 0)
          throw new InputError(`--maxretry: "${options.maxretry}" is not a positive number`);
        config.policy.maxretry = n;
      }
      if (options.findtime !== undefined) {
        const ms = parseDuration(options.findtime);
        const problem = durationProblem(options.findtime, ms);
        if (problem !== undefined) throw new InputError(`--findtime: ${problem}`);
        config.policy.findtime = ms;
      }
      if (options.dateformat !== undefined) {
        try {
          DateFormat.compile(options.dateformat);
        } catch (err) {
          throw new InputError(`--dateformat: ${(err as Error).message}`);
        }
        config.detect.dateformat = options.dateformat;
      }
      const paths = files.length > 0 ? files : DEFAULT_LOGS.filter((p) => existsSync(p));
      if (paths.length === 0) {
        throw new InputError(`no log file found at ${DEFAULT_LOGS.join(" or ")}: name the files to scan`);
      }
      const explained: string[] = [];
      const observe = options.explain
        ? (line: string, o: LineOutcome) => explained.push(explainLine(line, o))
        : undefined;
      // The store and the firewall load only for --ban (a plain scan starts faster without them).
      const ctx = options.ban ? (await import("./context.js")).openBanContext(config) : undefined;
      try {
        const result = await scanFiles(paths, config, {
          observe,
          history: ctx && ((ip, before) => ctx.store.offences(ip, before)),
          decisions: ctx !== undefined,
        });
        const applied = ctx ? await applyDecisions(ctx, result) : undefined;
        print(result, config.policy, options, explained, applied);
      } finally {
        ctx?.close();
      }
    });
}

async function applyDecisions(ctx: BanContext, result: ScanResult) {
  const now = Date.now();
  const bans = result.decisions.map((d) => ({
    ip: d.ip,
    since: d.at,
    until: d.until,
    reason: d.reason,
    origin: "policy",
    evidence: d.evidence,
  }));
  return ctx.manager.apply(bans, now);
}

function print(
  result: ScanResult,
  policy: PolicyView,
  options: ScanOptions,
  explained: string[],
  applied: Awaited<ReturnType<typeof applyDecisions>> | undefined,
): void {
  if (options.json) {
    const banned = applied && {
      added: applied.added.map((b) => b.ip),
      skipped: applied.skipped,
    };
    writeScanJson((text) => process.stdout.write(text), result, policy, banned && { banned });
    return;
  }
  if (options.explain) process.stdout.write(`${explained.filter(Boolean).join("\n")}\n\n`);
  process.stdout.write(`${renderTable(result, policy)}\n`);
  if (applied) process.stdout.write(`\n${renderApplied(applied)}\n`);
}

function renderApplied(applied: Awaited<ReturnType<typeof applyDecisions>>): string {
  const count = (why: string) => applied.skipped.filter((s) => s.why === why).length;
  const lines = [
    `Banned ${counted(applied.added.length, "address", "addresses")}${applied.added.length ? `: ${applied.added.map((b) => b.ip).join(", ")}` : ""}.`,
  ];
  if (count("already banned"))
    lines.push(
      `${count("already banned")} already banned: left as ${count("already banned") === 1 ? "it is" : "they are"}.`,
    );
  if (count("already over"))
    lines.push(`${counted(count("already over"), "ban")} would already have ended by now: not applied.`);
  if (count("lifted before"))
    lines.push(
      `${counted(count("lifted before"), "ban")} ${count("lifted before") === 1 ? "was" : "were"} applied before and lifted since: not applied again.`,
    );
  if (count("allowlisted") + count("protected"))
    lines.push(`${count("allowlisted") + count("protected")} allowlisted or protected: never banned.`);
  return lines.join("\n");
}

function explainLine(line: string, o: LineOutcome): string {
  const text = printable(line);
  switch (o.kind) {
    case "event":
      return `MATCH     ${o.event.rule.padEnd(22)} ${o.event.ip.padEnd(20)} ${text}`;
    case "duplicate":
      return `DUPLICATE ${o.event.rule.padEnd(22)} ${o.event.ip.padEnd(20)} ${text}`;
    case "ambiguous":
      return `AMBIGUOUS ${o.rule.padEnd(22)} ${"(nobody blamed)".padEnd(20)} ${text}`;
    case "unmatched":
      return `NO MATCH  ${"(looks like a failure)".padEnd(43)} ${text}`;
    case "distrusted":
      return `DISTRUST  ${"(inside a split record)".padEnd(43)} ${text}`;
    case "no-prefix":
      return "";
  }
}

function renderTable(result: ScanResult, policy: PolicyView): string {
  const offenders = result.report.offenders();
  const banned = offenders.filter((o) => o.wouldBan).length;
  const head =
    `${counted(result.linesRead, "line")} read from ${counted(result.files.length, "file")}: ` +
    `${counted(result.report.failures, "failure")} from ${counted(offenders.length, "address", "addresses")}; ` +
    `${banned.toLocaleString("en")} would be banned (${counted(policy.maxretry, "failure")} within ${formatMs(policy.findtime)}).`;
  const notes: string[] = [];
  const s = result.stats;
  if (s.injections) notes.push(`${counted(s.injections, "log injection attempt")} caught`);
  if (s.ambiguous)
    notes.push(`${counted(s.ambiguous, "crafted line")} with more than one possible address ignored`);
  if (s.unmatched)
    notes.push(
      s.unmatched === 1
        ? "1 line looks like a failure but matched no rule (see --explain)"
        : `${counted(s.unmatched, "line")} look like failures but matched no rule (see --explain)`,
    );
  if (s.duplicates) notes.push(`${counted(s.duplicates, "attempt")} logged twice, counted once`);
  if (result.allowlisted)
    notes.push(`${counted(result.allowlisted, "failure")} from allowlisted addresses, never banned`);
  if (s.oversized) notes.push(`${counted(s.oversized, "oversized line")} skipped`);
  if (s.undated)
    notes.push(
      `${counted(s.undated, "line")} without a date sipban can read, counted at the last dated line or the file's last change (for Asterisk, give its dateformat: --dateformat or detect.dateformat; Kamailio's stderr has none)`,
    );
  const noteLines = notes.length ? ["", ...notes.map((n) => `Note: ${n}.`)] : [];
  // The notes matter most when nothing was found: they say what was seen but not counted.
  if (offenders.length === 0) return [head, "No failures found.", ...noteLines].join("\n");
  const rows = offenders.map((o) => [
    o.ip,
    o.failures.toLocaleString("en"),
    o.wouldBan ? "yes" : "no",
    formatTime(o.firstSeen),
    formatTime(o.lastSeen),
    clip(
      [...o.reasons]
        .sort((a, b) => b[1] - a[1])
        .map(([r, n]) => `${r} (${n})`)
        .join(", "),
      60,
    ),
    clip(printable(o.users.join(", ")), 40),
  ]);
  return [
    head,
    "",
    table(
      ["ADDRESS", "FAILURES", "BAN", "FIRST SEEN", "LAST SEEN", "REASONS", "USERS TRIED"],
      rows,
      new Set([1]),
    ),
    ...noteLines,
  ].join("\n");
}
