import type { Config } from "./schema.js";

/**
 * The configuration when no file is given: every default, as plain data. Kept apart from the
 * schema so that commands run without a configuration file (`scan` from cron) do not load the
 * YAML parser and zod (a fifth of a second of start-up). A test checks it against the schema's
 * defaults.
 */
export function defaultConfig(): Config {
  return {
    sources: [
      { file: "/var/log/asterisk/messages.log", from: "end" },
      { file: "/var/log/asterisk/messages", from: "end" },
    ],
    daemon: { socket: "/run/sipban/sipban.sock", reconcileEvery: 30_000, logLevel: "info" },
    firewall: {
      backend: "nftables",
      scope: "all",
      ports: { udp: ["5060-5061", 4569], tcp: ["5060-5061", 5038] },
      maxelem: 1_048_576,
      name: "sipban",
    },
    state: { path: "/var/lib/sipban/sipban.db" },
    policy: {
      maxretry: 5,
      findtime: 10 * 60_000,
      bantime: 3600_000,
      factor: 2,
      maxbantime: 7 * 24 * 3600_000,
      maxTracked: 250_000,
    },
    allowlist: [],
    detect: { rules: {}, weights: {}, honeypot: [], banInjection: false, custom: [] },
  };
}
