import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DEFAULT_CONFIG_PATH } from "../src/cli/config-option.js";
import { defaultConfig } from "../src/config/defaults.js";
import { configJsonSchema } from "../src/config/json-schema.js";
import { ConfigError, loadConfig, parseConfig } from "../src/config/load.js";
import { configSchema } from "../src/config/schema.js";
import { sipbanMain } from "./helpers/command.js";

function errorOf(yaml: string): string {
  try {
    parseConfig(yaml, "/etc/sipban/sipban.yaml");
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return err.message;
  }
  assert.fail("expected the configuration to be refused");
}

describe("configuration", () => {
  it("has defaults for everything", () => {
    const c = defaultConfig();
    assert.equal(c.policy.maxretry, 5);
    assert.equal(c.policy.findtime, 600_000);
    assert.equal(c.firewall.backend, "nftables");
  });

  it("states the same defaults as the schema (they are written out twice, for start-up speed)", () => {
    assert.deepEqual(defaultConfig(), configSchema.parse({}));
    assert.deepEqual(parseConfig("", "empty.yaml"), defaultConfig());
  });

  it("reads durations and lists", () => {
    const c = parseConfig("policy:\n  findtime: 2m\n  bantime: 1d\nallowlist:\n  - 192.0.2.0/24\n", "x.yaml");
    assert.equal(c.policy.findtime, 120_000);
    assert.equal(c.policy.bantime, 86_400_000);
    assert.deepEqual(c.allowlist, ["192.0.2.0/24"]);
  });

  it("names the file, line and unknown key", () => {
    assert.equal(
      errorOf("policy:\n  maxretry: 5\n  findtme: 10m\n"),
      '/etc/sipban/sipban.yaml:3: unknown key "findtme" in policy',
    );
  });

  it("names the line of a bad value", () => {
    assert.match(
      errorOf("policy:\n  maxretry: 5\n  bantime: forever\n"),
      /^\/etc\/sipban\/sipban\.yaml:3: policy\.bantime: "forever" is not a duration/,
    );
  });

  it("says what is wrong inside a source, at its line, and what a source can be", () => {
    const ami = [
      "sources:",
      "  - file: /var/log/asterisk/messages",
      "  - ami:",
      "      username: sipban",
      "      secret: s",
      '      port: "5038"',
    ];
    assert.equal(
      errorOf(`${ami.join("\n")}\n`),
      "/etc/sipban/sipban.yaml:6: sources.1.ami.port: Invalid input: expected number, received string",
    );
    assert.equal(
      errorOf("sources:\n  - file: /var/log/messages\n    from: beginning\n"),
      '/etc/sipban/sipban.yaml:3: sources.0.from: Invalid option: expected one of "end"|"start"',
    );
    assert.match(
      errorOf("sources:\n  - /var/log/asterisk/messages\n"),
      /:2: sources\.0: a source is one of \{file: PATH\}, \{journald: .*\}, \{stdin: true\} or \{ami: .*\}$/,
    );
    assert.equal(
      errorOf("policy:\n  findtime: .inf\n"),
      "/etc/sipban/sipban.yaml:2: policy.findtime: write a duration: 90s, 10m, 1h, 2d or 1w",
    );
  });

  it("names the line of a bad allowlist entry", () => {
    assert.match(
      errorOf("allowlist:\n  - 192.0.2.0/24\n  - 10.0.0.300\n"),
      /sipban\.yaml:3: allowlist\.1: "10\.0\.0\.300" is not an IP address/,
    );
  });

  it("takes Asterisk's dateformat, and names the line of one it cannot read back", () => {
    assert.equal(
      parseConfig("detect:\n  dateformat: '%d/%m/%Y %T'\n", "x.yaml").detect.dateformat,
      "%d/%m/%Y %T",
    );
    assert.equal(
      errorOf("detect:\n  banInjection: true\n  dateformat: '%d/%m %H:%M:%S %j'\n"),
      '/etc/sipban/sipban.yaml:3: detect.dateformat: "%d/%m %H:%M:%S %j": %j is not a conversion sipban can read back into a date',
    );
  });

  it("reports YAML syntax errors with a line", () => {
    assert.match(errorOf("policy:\n  maxretry: [5\n"), /sipban\.yaml:\d+: /);
  });

  it("proves user rules on their examples at load time", () => {
    const ok = parseConfig(
      [
        "detect:",
        "  custom:",
        "    - id: proxy",
        "      regex: 'auth failed src=(?<ip>\\S+)$'",
        "      contains: auth failed",
        "      examples: ['auth failed src=203.0.113.5']",
      ].join("\n"),
      "x.yaml",
    );
    assert.equal(ok.detect.custom[0]!.id, "proxy");
    assert.match(
      errorOf(
        ["detect:", "  custom:", "    - id: proxy", "      regex: 'auth failed src=(\\S+)$'"].join("\n"),
      ),
      /sipban\.yaml:4: rule "proxy": the regex needs a named group/,
    );
    assert.match(
      errorOf(
        [
          "detect:",
          "  custom:",
          "    - id: proxy",
          "      regex: 'src=(?<ip>\\S+)$'",
          "      examples: ['src=pbx']",
        ].join("\n"),
      ),
      /sipban\.yaml:5: rule "proxy": example yields no valid address/,
    );
    assert.match(
      errorOf(["detect:", "  custom:", "    - id: p", "      regex: '(?<ip>['"].join("\n")),
      /:4: rule "p": invalid regex/,
    );
  });

  it("refuses unknown rule ids", () => {
    assert.match(
      errorOf("detect:\n  rules:\n    no-such-rule: true\n"),
      /sipban\.yaml:3: unknown rule "no-such-rule"/,
    );
  });
});

describe("shipped configuration files", () => {
  const root = join(import.meta.dirname, "..", "..");

  it("the commented example validates", () => {
    const c = loadConfig(join(root, "examples", "sipban.yaml"));
    assert.equal(c.policy.maxretry, 5);
    assert.equal(c.sources.length, 2);
  });

  it("the JSON Schema for editors matches the code", () => {
    const shipped = JSON.parse(readFileSync(join(root, "packaging", "sipban.schema.json"), "utf8"));
    assert.deepEqual(
      shipped,
      JSON.parse(JSON.stringify(configJsonSchema())),
      "run: bin/sipban config-schema -o packaging/sipban.schema.json",
    );
  });
});

describe("sipban rules", () => {
  it("lists every rule with its state", async () => {
    const { execFileSync } = await import("node:child_process");
    const out = execFileSync(process.execPath, [sipbanMain, "rules"], { encoding: "utf8" });
    assert.match(out, /^sip-register +sip +on /m);
    assert.match(out, /^pjsip-no-aors +pjsip +off /m);
    assert.match(out, /^kamailio-auth-failure +kamailio +on /m);
  });
});

describe("sipban check-config", () => {
  const checkConfig = async (...args: string[]) => {
    const { execFileSync } = await import("node:child_process");
    return execFileSync(process.execPath, [sipbanMain, ...args, "check-config"], { encoding: "utf8" });
  };

  it("names the file it checked", async () => {
    const example = join(import.meta.dirname, "..", "..", "examples", "sipban.yaml");
    assert.match(await checkConfig("--config", example), /examples\/sipban\.yaml: OK \(\d+ rules/);
  });

  it("says so when there is no file and only the built-in defaults were checked", {
    skip: existsSync(DEFAULT_CONFIG_PATH) && `${DEFAULT_CONFIG_PATH} exists on this machine`,
  }, async () => {
    assert.match(await checkConfig(), /^no configuration file, the built-in defaults: OK /);
  });
});
