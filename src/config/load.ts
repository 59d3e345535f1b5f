import { readFileSync } from "node:fs";
import { isMap, isSeq, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { RuleError } from "../detect/rules/custom.js";
import { buildRules, UnknownRuleError } from "../detect/ruleset.js";
import { ConfigError } from "./errors.js";
import { type Config, configSchema } from "./schema.js";

export { ConfigError };

/** Reads and validates a YAML configuration file. Throws ConfigError naming file, line and problem. */
export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(
      `${path}: cannot read the configuration (${(err as NodeJS.ErrnoException).code ?? err})`,
    );
  }
  return parseConfig(text, path);
}

export function parseConfig(text: string, path: string): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const lineOf = (offset: number | undefined) => (offset === undefined ? 1 : lines.linePos(offset).line);
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new ConfigError(`${path}:${lineOf(e.pos[0])}: ${e.message.split("\n")[0]}`);
  }
  const data = doc.toJS() ?? {};
  const result = configSchema.safeParse(data);
  if (result.success) {
    // User rules are proven on their examples now, so a broken one never starts.
    try {
      buildRules(result.data.detect);
    } catch (err) {
      if (err instanceof RuleError) {
        const at = lineOfPath(doc, ["detect", "custom", err.index, err.field], lineOf);
        throw new ConfigError(`${path}:${at}: ${err.message}`);
      }
      if (err instanceof UnknownRuleError) {
        throw new ConfigError(
          `${path}:${lineOfPath(doc, ["detect", err.section, err.id], lineOf)}: ${err.message}`,
        );
      }
      throw err;
    }
    return result.data;
  }
  const issue = specific(result.error.issues[0]!);
  const keys = issue.path.map((p) => (typeof p === "number" ? p : String(p)));
  const located = issue.code === "unrecognized_keys" ? [...keys, issue.keys[0]!] : keys;
  throw new ConfigError(`${path}:${lineOfPath(doc, located, lineOf)}: ${describe(issue, keys)}`);
}

function lineOfPath(
  doc: ReturnType<typeof parseDocument>,
  keys: Array<string | number>,
  lineOf: (offset: number | undefined) => number,
): number {
  // Walk down as far as the path exists and point at the deepest key (or list item) found.
  for (let depth = keys.length; depth >= 1; depth--) {
    const parent = depth === 1 ? doc.contents : doc.getIn(keys.slice(0, depth - 1), true);
    const key = keys[depth - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
      const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
      if (range) return lineOf(range[0]);
    } else if (isSeq(parent) && typeof key === "number") {
      const range = (parent.items[key] as { range?: [number, number, number] } | undefined)?.range;
      if (range) return lineOf(range[0]);
    }
  }
  return 1;
}

/**
 * The issue worth reporting: where a value fits none of a union's forms, the one form it took
 * the shape of (its keys), and what is wrong inside that; else the union's own message.
 */
function specific(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== "invalid_union") return issue;
  const fitting = issue.errors.filter((form) => form.length > 0 && form.every((i) => i.path.length > 0));
  if (fitting.length !== 1) return issue;
  const inner = fitting[0]![0]!;
  return specific({ ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue);
}

function describe(issue: z.core.$ZodIssue, keys: Array<string | number>): string {
  const where = keys.length ? keys.join(".") : "the file";
  if (issue.code === "unrecognized_keys") {
    return `unknown key ${issue.keys.map((k) => `"${k}"`).join(", ")} in ${where}`;
  }
  return `${where}: ${issue.message}`;
}
