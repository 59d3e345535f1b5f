import { z } from "zod";
import { DateFormat } from "../detect/dateformat.js";
import { allowlistEntryError } from "../policy/allowlist.js";
import { durationProblem, parseDuration } from "../policy/policy.js";

const duration = z
  .union([z.string(), z.number()], { error: "write a duration: 90s, 10m, 1h, 2d or 1w" })
  .transform((value, ctx) => {
    const ms = typeof value === "number" ? value * 1000 : parseDuration(value);
    const problem = durationProblem(value, ms);
    if (problem !== undefined) {
      ctx.addIssue({ code: "custom", message: problem });
      return z.NEVER;
    }
    return ms;
  });

const allowlistEntry = z.string().superRefine((entry, ctx) => {
  const error = allowlistEntryError(entry);
  if (error) ctx.addIssue({ code: "custom", message: error });
});

const customRule = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, "use lower-case letters, digits, - and _"),
  /** A regular expression with a named group `ip`. */
  regex: z.string(),
  /** A literal every matching line contains: lines without it are skipped unread. */
  contains: z.string().min(3).optional(),
  /** Match against the message after the log prefix (default) or the whole physical line. */
  on: z.enum(["message", "line"]).default("message"),
  reason: z.string().default("custom rule"),
  weight: z.number().positive().default(1),
  instant: z.boolean().default(false),
  /** Lines the rule must match (checked at load time). */
  examples: z.array(z.string()).default([]),
});

const dateformat = z.string().superRefine((format, ctx) => {
  try {
    DateFormat.compile(format);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
  }
});

const portRange = z.union([
  z.number().int().min(1).max(65535),
  z
    .string()
    .regex(/^\d{1,5}-\d{1,5}$/, 'write a port (5060) or a range ("5060-5061")')
    .refine((text) => {
      const [low, high] = text.split("-").map(Number) as [number, number];
      return low >= 1 && high <= 65535 && low <= high;
    }, "a range runs from a port to a higher one, within 1-65535"),
]);

const firewall = z.strictObject({
  /** nftables (default), ipset (ipset + iptables), iptables (one rule per address), dry-run. */
  backend: z.enum(["nftables", "ipset", "iptables", "dry-run"]).default("nftables"),
  /** Drop everything from a banned address (default), or only its traffic to the VoIP ports. */
  scope: z.enum(["all", "voip"]).default("all"),
  ports: z
    .strictObject({
      udp: z.array(portRange).default(["5060-5061", 4569]),
      tcp: z.array(portRange).default(["5060-5061", 5038]),
    })
    .prefault({}),
  /** ipset's maxelem: the most addresses one set holds (ipset's own default, 65536, is too small). */
  maxelem: z.number().int().min(1024).default(1_048_576),
  /** Name of sipban's nftables table / iptables chain / ipset sets prefix. */
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,15}$/, "lower-case letters, digits, - and _, at most 16")
    .default("sipban"),
});

const source = z.union(
  [
    z.strictObject({
      /** A log file to follow across rotation. */
      file: z.string().min(1),
      /** On the very first run: skip what is already in the file (end) or read it (start). */
      from: z.enum(["end", "start"]).default("end"),
    }),
    z.strictObject({
      /** journalctl matches, e.g. `_SYSTEMD_UNIT=asterisk.service`. */
      journald: z.strictObject({
        match: z.array(z.string().regex(/^[A-Z0-9_]+=/, "write FIELD=value")).default([]),
        /** Journal files in this directory instead of the system journal (`journalctl -D`). */
        directory: z.string().min(1).optional(),
      }),
    }),
    z.strictObject({ stdin: z.literal(true) }),
    z.strictObject({
      /** Asterisk's manager interface: security events as they happen. */
      ami: z.strictObject({
        host: z.string().min(1).default("127.0.0.1"),
        port: z.number().int().min(1).max(65535).default(5038),
        username: z.string().regex(/^[^\r\n]+$/, "one line, not empty"),
        secret: z.string().regex(/^[^\r\n]+$/, "one line, not empty"),
        tls: z
          .union([
            z.boolean(),
            z.strictObject({
              /** PEM file of the CA that signed Asterisk's certificate. */
              ca: z.string().optional(),
              servername: z.string().optional(),
              rejectUnauthorized: z.boolean().default(true),
            }),
          ])
          .default(false),
        events: z
          .array(
            z.enum([
              "InvalidAccountID",
              "ChallengeResponseFailed",
              "InvalidPassword",
              "FailedACL",
              "RequestNotAllowed",
              "AuthMethodNotAllowed",
              "InvalidTransport",
              "UnexpectedAddress",
              "RequestBadFormat",
              "RequestNotSupported",
              "SessionLimit",
              "LoadAverageLimit",
              "MemoryLimit",
            ]),
          )
          .optional(),
      }),
    }),
  ],
  {
    error:
      "a source is one of {file: PATH}, {journald: {match: [...]}}, {stdin: true} or {ami: {username, secret, ...}}",
  },
);

export const configSchema = z.strictObject({
  sources: z
    .array(source)
    .min(1)
    .default([
      { file: "/var/log/asterisk/messages.log", from: "end" },
      { file: "/var/log/asterisk/messages", from: "end" },
    ]),
  daemon: z
    .strictObject({
      /** Control socket for `sipban bans|ban|unban|status` (root only). */
      socket: z.string().min(1).default("/run/sipban/sipban.sock"),
      /** How often the kernel is checked against the recorded bans (repairs an external flush). */
      reconcileEvery: duration.default(30_000),
      /** Log level: debug, info, warn, error. */
      logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
    })
    .prefault({}),
  firewall: firewall.prefault({}),
  state: z
    .strictObject({
      /** SQLite database: active bans, ban history, read positions. */
      path: z.string().min(1).default("/var/lib/sipban/sipban.db"),
    })
    .prefault({}),
  policy: z
    .strictObject({
      maxretry: z.number().positive().default(5),
      findtime: duration.default(10 * 60_000),
      bantime: duration.default(3600_000),
      factor: z.number().min(1).default(2),
      maxbantime: duration.default(7 * 24 * 3600_000),
      maxTracked: z.number().int().min(1000).default(250_000),
    })
    .prefault({}),
  allowlist: z.array(allowlistEntry).default([]),
  detect: z
    .strictObject({
      /** Turn built-in rules on or off by id (`pjsip-no-aors: true`). */
      rules: z.record(z.string(), z.boolean()).default({}),
      /** Weight per rule id. */
      weights: z.record(z.string(), z.number().positive()).default({}),
      /** Extra honeypot phrases: a line ending with "<phrase> <address>" bans at once. */
      honeypot: z.array(z.string().min(3)).default([]),
      /** Ban an address caught splitting log records at once. */
      banInjection: z.boolean().default(false),
      /**
       * Asterisk's `dateformat` (logger.conf), when it is not one sipban reads without it: lines
       * in an unknown format would be counted at the file's time.
       */
      dateformat: dateformat.optional(),
      custom: z.array(customRule).default([]),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type CustomRuleConfig = z.infer<typeof customRule>;
