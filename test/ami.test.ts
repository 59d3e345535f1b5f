import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createServer as createTlsServer } from "node:tls";
import type { FailureEvent } from "../src/detect/event.js";
import { AmiSource, type AmiSourceOptions, type AmiState } from "../src/sources/ami.js";
import { AmiGuard, emptyGuardStats } from "../src/sources/ami-guard.js";
import { eventTime, parseAmiAddress, parseBlock } from "../src/sources/ami-protocol.js";
import { runOrSkip } from "./helpers/netns.js";
import { waitFor } from "./helpers/wait.js";

// ---------------------------------------------------------------------------------------------
// The wire: what Asterisk writes for a security event. Values are copied unescaped, so a raw
// CR/LF in an attacker's AccountID (decoded from %0D%0A in the SIP URI user) becomes line breaks.

/** One block as Asterisk writes it: `Key: value` lines, each ended by CRLF, then an empty line. */
const wire = (...lines: string[]): string => `${lines.map((l) => `${l}\r\n`).join("")}\r\n`;

interface Security {
  tv?: string;
  service?: string;
  version?: string;
  account: string;
  session: string;
  local?: string;
  remote: string;
  extra?: string[];
}

/** A security event as main/security_events.c writes it to AMI, with the given (attacker's) values. */
function asterisk(event: string, s: Security): string {
  return wire(
    `Event: ${event}`,
    "Privilege: security,all",
    `EventTV: ${s.tv ?? "2024-03-05T10:00:03.007+0000"}`,
    "Severity: Error",
    `Service: ${s.service ?? "SIP"}`,
    `EventVersion: ${s.version ?? "2"}`,
    `AccountID: ${s.account}`,
    `SessionID: ${s.session}`,
    `LocalAddress: ${s.local ?? "IPV4/UDP/192.0.2.10/5060"}`,
    `RemoteAddress: ${s.remote}`,
    ...(s.extra ?? []),
  );
}

// Recorded events (Asterisk 20, the reference's b.6 lines as AMI writes them).
const INVALID_ACCOUNT = wire(
  "Event: InvalidAccountID",
  "Privilege: security,all",
  "EventTV: 2024-03-05T10:00:01.101+0000",
  "Severity: Error",
  "Service: PJSIP",
  "EventVersion: 1",
  "AccountID: 1001",
  "SessionID: 5b1ac0f3d2e94a",
  "LocalAddress: IPV4/UDP/192.0.2.10/5060",
  "RemoteAddress: IPV4/UDP/203.0.113.5/5071",
);
const CHALLENGE_FAILED = wire(
  "Event: ChallengeResponseFailed",
  "Privilege: security,all",
  "EventTV: 2024-03-05T10:00:02.250+0000",
  "Severity: Error",
  "Service: PJSIP",
  "EventVersion: 1",
  "AccountID: 1001",
  "SessionID: 6c2bd1",
  "LocalAddress: IPV4/TLS/192.0.2.10/5061",
  "RemoteAddress: IPV4/TLS/203.0.113.5/40212",
  "Challenge: 1709632802/4a1e0b9b7c",
  "Response: 8e2f6a91d0c3b47e5f1a2b3c4d5e6f70",
  "ExpectedResponse: ",
);
const INVALID_PASSWORD = wire(
  "Event: InvalidPassword",
  "Privilege: security,all",
  "Timestamp: 1709632803.500000",
  "EventTV: 2024-03-05T10:00:03.007+0000",
  "Severity: Error",
  "Service: SIP",
  "EventVersion: 2",
  "AccountID: 1001",
  "SessionID: 0x7f2a1c00a000",
  "LocalAddress: IPV4/UDP/192.0.2.10/5060",
  "RemoteAddress: IPV4/UDP/198.51.100.44/5060",
  "Challenge: 5a1b2c3d",
  "ReceivedChallenge: 5a1b2c3d",
  "ReceivedHash: 00112233445566778899aabbccddeeff",
);
const FAILED_ACL_AMI = wire(
  "Event: FailedACL",
  "Privilege: security,all",
  "EventTV: 1368439853-500975",
  "Severity: Error",
  "Service: AMI",
  "EventVersion: 1",
  "AccountID: admin",
  "SessionID: 0x7fb580001518",
  "LocalAddress: IPV4/TCP/0.0.0.0/5038",
  "RemoteAddress: IPV4/TCP/203.0.113.9/50412",
  "SessionTV: 2024-03-05T10:00:04.000+0000",
);
const FAILED_ACL_V6 = wire(
  "Event: FailedACL",
  "Privilege: security,all",
  "EventTV: 2024-03-05T10:00:05.500+0000",
  "Severity: Error",
  "Service: PJSIP",
  "EventVersion: 1",
  "AccountID: 1001",
  "SessionID: d1e2f3",
  "LocalAddress: IPV6/UDP/2001:db8::10/5060",
  "RemoteAddress: IPV6/UDP/2001:DB8:0::5/5060",
  "ACLName: not_match_endpoint_acl",
);
const CHALLENGE_SENT = wire(
  "Event: ChallengeSent",
  "Privilege: security,all",
  "EventTV: 2024-03-05T10:00:06.000+0000",
  "Severity: Informational",
  "Service: PJSIP",
  "EventVersion: 1",
  "AccountID: 1001",
  "SessionID: 77aa",
  "LocalAddress: IPV4/UDP/192.0.2.10/5060",
  "RemoteAddress: IPV4/UDP/198.51.100.7/5060",
  "Challenge: 1709632806/99",
);
const SUCCESSFUL_AUTH = wire(
  "Event: SuccessfulAuth",
  "Privilege: security,all",
  "EventTV: 2024-03-05T10:00:06.100+0000",
  "Severity: Informational",
  "Service: PJSIP",
  "EventVersion: 1",
  "AccountID: 1001",
  "SessionID: 77aa",
  "LocalAddress: IPV4/UDP/192.0.2.10/5060",
  "RemoteAddress: IPV4/UDP/198.51.100.7/5060",
  "UsingPassword: 1",
);

const VICTIM = "192.0.2.66";
const ATTACKER = "203.0.113.77";
const HOSTILE_REMOTE = `IPV4/UDP/${ATTACKER}/5062`;

/** A genuine InvalidPassword from 198.51.100.<n>. */
const genuine = (n: number): string =>
  asterisk("InvalidPassword", {
    account: `user${n}`,
    session: `0x7f00${n}`,
    remote: `IPV4/UDP/198.51.100.${n}/5060`,
  });

/** A forged InvalidPassword naming the victim, as attacker text inside a value. */
const FORGED_BLOCK =
  "Event: InvalidPassword\r\nPrivilege: security,all\r\nEventTV: 2024-03-05T10:00:03.007+0000\r\n" +
  "Severity: Error\r\nService: SIP\r\nEventVersion: 2\r\nAccountID: 1001\r\nSessionID: 0x1\r\n" +
  `LocalAddress: IPV4/UDP/192.0.2.10/5060\r\nRemoteAddress: IPV4/UDP/${VICTIM}/5060\r\n`;

// ---------------------------------------------------------------------------------------------
// A small manager: banner, Login (checked), Ping, and whatever the test writes.

interface ManagerOptions {
  secret?: string;
  tls?: { key: string; cert: string };
  banner?: string;
  answerPings?: boolean;
}

class FakeManager {
  readonly logins: Array<Map<string, string>> = [];
  readonly connectedAt: number[] = [];
  private readonly sockets = new Set<Socket>();
  private loggedIn: Socket | null = null;
  secret: string;
  port = 0;

  private constructor(
    private readonly server: Server,
    private readonly options: ManagerOptions,
  ) {
    this.secret = options.secret ?? "s3cret";
  }

  static async start(options: ManagerOptions = {}): Promise<FakeManager> {
    let manager!: FakeManager;
    const onSocket = (socket: Socket): void => manager.accept(socket);
    const server = options.tls ? createTlsServer(options.tls, onSocket) : createServer(onSocket);
    manager = new FakeManager(server, options);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    manager.port = (server.address() as { port: number }).port;
    return manager;
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    this.connectedAt.push(Date.now());
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => {});
    socket.write(`${this.options.banner ?? "Asterisk Call Manager/9.0.0"}\r\n`);
    let pending = "";
    socket.on("data", (d: Buffer) => {
      pending += d.toString("utf8");
      for (let end = pending.indexOf("\r\n\r\n"); end !== -1; end = pending.indexOf("\r\n\r\n")) {
        const action = new Map<string, string>();
        for (const line of pending.slice(0, end).split("\r\n")) {
          const colon = line.indexOf(": ");
          action.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 2));
        }
        pending = pending.slice(end + 4);
        this.act(socket, action);
      }
    });
  }

  private act(socket: Socket, action: Map<string, string>): void {
    const id = action.get("actionid") ?? "";
    if (action.get("action") === "Login") {
      this.logins.push(action);
      if (action.get("secret") === this.secret && action.get("events") === "security") {
        socket.write(wire("Response: Success", `ActionID: ${id}`, "Message: Authentication accepted"));
        this.loggedIn = socket;
      } else {
        socket.write(wire("Response: Error", `ActionID: ${id}`, "Message: Authentication failed"));
      }
    } else if (action.get("action") === "Ping" && this.options.answerPings !== false) {
      socket.write(
        wire("Response: Success", `ActionID: ${id}`, "Ping: Pong", "Timestamp: 1709632800.000000"),
      );
    }
  }

  /** Writes to the logged-in connection in one write. */
  send(text: string): void {
    assert.ok(this.loggedIn, "no client is logged in");
    this.loggedIn.write(text);
  }

  /** Writes one byte at a time, a millisecond apart: a block cut across many packets. */
  async sendByteByByte(text: string): Promise<void> {
    const socket = this.loggedIn;
    assert.ok(socket, "no client is logged in");
    for (const byte of Buffer.from(text)) {
      socket.write(Buffer.from([byte]));
      await sleep(1);
    }
  }

  drop(): void {
    this.loggedIn = null;
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------------

interface Run {
  source: AmiSource;
  manager: FakeManager;
  events: FailureEvent[];
  states: Array<{ state: AmiState; detail: string; at: number }>;
}

/** A description of what is awaited that, on timeout, shows the states the source went through. */
const withStates = (r: Run, what: string) => (): string => `${what}; states ${JSON.stringify(r.states)}`;

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function run(
  extra: Partial<AmiSourceOptions> = {},
  managerOptions: ManagerOptions = {},
  manager?: FakeManager,
): Promise<Run> {
  const m = manager ?? (await FakeManager.start(managerOptions));
  if (!manager) cleanup.push(() => m.close());
  const events: FailureEvent[] = [];
  const states: Run["states"] = [];
  const source = new AmiSource({
    host: "127.0.0.1",
    port: m.port,
    username: "sipban",
    secret: "s3cret",
    backoffMinMs: 20,
    backoffMaxMs: 80,
    settleMs: 15,
    onEvent: (e) => events.push(e),
    onState: (state, detail) => states.push({ state, detail, at: Date.now() }),
    ...extra,
  });
  cleanup.push(() => source.stop());
  source.start();
  return { source, manager: m, events, states };
}

async function loggedIn(r: Run): Promise<void> {
  await waitFor(withStates(r, "the login"), () => r.source.state === "logged-in");
}

/** Sends text and waits until the source has settled it (quiet time passed, nothing pending). */
async function replay(r: Run, text: string, expectEvents: number): Promise<void> {
  const before = r.source.stats.bytesRead;
  r.manager.send(text);
  await waitFor(
    () =>
      `the text read and ${expectEvents} events; have ${r.events.length}, stats ${JSON.stringify(r.source.stats)}`,
    () => r.source.stats.bytesRead >= before + Buffer.byteLength(text) && r.events.length >= expectEvents,
  );
  await sleep(60);
}

const ips = (events: FailureEvent[]): string[] => events.map((e) => e.ip);

describe("AMI wire format", () => {
  it("reads RemoteAddress values, IPv4 and IPv6, with and without the transport", () => {
    assert.deepEqual(parseAmiAddress("IPV4/UDP/203.0.113.5/5071"), { ip: "203.0.113.5", port: 5071 });
    assert.deepEqual(parseAmiAddress("IPV6/UDP/2001:DB8:0::5/5060"), { ip: "2001:db8::5", port: 5060 });
    assert.deepEqual(parseAmiAddress("IPV4/203.0.113.5/5060"), { ip: "203.0.113.5", port: 5060 });
    assert.deepEqual(parseAmiAddress("IPV6/UDP/::ffff:203.0.113.5/5060"), { ip: "203.0.113.5", port: 5060 });
    for (const bad of ["IPV4/UDP/pbx.example.com/5060", "IPV4/UDP/203.0.113.5", "203.0.113.5:5060", ""])
      assert.equal(parseAmiAddress(bad), null, bad);
  });

  it("takes the time from Timestamp, else EventTV (ISO or Asterisk 11 epoch), else now", () => {
    const f = (pairs: Array<[string, string]>) => new Map(pairs);
    assert.equal(eventTime(f([["timestamp", "1709632803.500000"]]), 7), 1709632803500);
    assert.equal(eventTime(f([["eventtv", "2024-03-05T10:00:01.101+0000"]]), 7), 1709632801101);
    assert.equal(eventTime(f([["eventtv", "2024-03-05T11:00:01.101+0100"]]), 7), 1709632801101);
    assert.equal(eventTime(f([["eventtv", "1368439853-500975"]]), 7), 1368439853500);
    assert.equal(eventTime(f([["eventtv", "yesterday"]]), 7), 7);
  });

  it("reads keys only at line start and marks repeated keys, stray lines and lone line breaks", () => {
    const b = parseBlock("Event: X\r\nAccountID: a RemoteAddress: IPV4/UDP/192.0.2.66/5060", 0, 10);
    assert.deepEqual(b.remoteAddresses, []);
    assert.equal(b.fields.get("accountid"), "a RemoteAddress: IPV4/UDP/192.0.2.66/5060");
    assert.equal(b.repeated || b.malformed, false);
    assert.equal(parseBlock("Event: X\r\nevent: Y", 0, 1).repeated, true);
    assert.equal(parseBlock("Event: X\r\nno colon here", 0, 1).malformed, true);
    assert.equal(parseBlock("Event: X\r\nAccountID: a\nRemoteAddress: b", 0, 1).malformed, true);
    assert.equal(parseBlock("y\r\nSessionID: 1", 0, 1).first, "");
  });

  it("holds a failure until the window has passed or the stream is quiet (pure guard)", () => {
    const emitted: FailureEvent[] = [];
    const stats = emptyGuardStats();
    const guard = new AmiGuard(
      {
        failures: new Set(["InvalidPassword"]),
        windowBytes: 100,
        now: () => 0,
        emit: (e) => emitted.push(e),
      },
      stats,
    );
    const text = genuine(1);
    const block = (start: number) => parseBlock(text.slice(0, -4), start, start + text.length);
    guard.block(block(0));
    assert.equal(emitted.length, 0, "held");
    assert.ok(guard.pending);
    guard.block(block(text.length + 100));
    assert.equal(emitted.length, 1, "released once 100 bytes followed it");
    guard.settle();
    assert.deepEqual(ips(emitted), ["198.51.100.1", "198.51.100.1"]);
    assert.equal(guard.pending, false);
  });
});

describe("AmiSource", () => {
  it("logs in with Events: security, reports its states and never shows the secret", async () => {
    const r = await run();
    await loggedIn(r);
    const login = r.manager.logins[0]!;
    assert.equal(login.get("username"), "sipban");
    assert.equal(login.get("secret"), "s3cret");
    assert.equal(login.get("events"), "security");
    assert.match(login.get("actionid") ?? "", /^sipban-login-[0-9a-f]{16}$/);
    assert.deepEqual(
      r.states.map((s) => s.state),
      ["connecting", "connected", "logged-in"],
    );
    assert.ok(r.states.every((s) => !s.detail.includes("s3cret")));
    assert.equal(r.source.name, `ami 127.0.0.1:${r.manager.port}`);
  });

  it("turns recorded failure events into failure events, IPv4 and IPv6; ChallengeSent and SuccessfulAuth into none", async () => {
    const r = await run();
    await loggedIn(r);
    const all = [
      INVALID_ACCOUNT,
      CHALLENGE_SENT,
      CHALLENGE_FAILED,
      SUCCESSFUL_AUTH,
      INVALID_PASSWORD,
      FAILED_ACL_AMI,
      FAILED_ACL_V6,
    ];
    await replay(r, all.join(""), 5);
    assert.deepEqual(
      r.events.map((e) => [e.ip, e.port, e.reason, e.user, e.callId, e.time]),
      [
        ["203.0.113.5", 5071, "Invalid account (PJSIP)", "1001", "5b1ac0f3d2e94a", 1709632801101],
        ["203.0.113.5", 40212, "Challenge response failed (PJSIP)", "1001", "6c2bd1", 1709632802250],
        ["198.51.100.44", 5060, "Invalid password (SIP)", "1001", undefined, 1709632803500],
        ["203.0.113.9", 50412, "Failed ACL (AMI)", "admin", undefined, 1368439853500],
        ["2001:db8::5", 5060, "Failed ACL (PJSIP)", "1001", "d1e2f3", 1709632805500],
      ],
    );
    for (const e of r.events) {
      assert.equal(e.service, "security");
      assert.equal(e.rule, "ami-security-event");
      assert.equal(e.instant, false);
      assert.equal(e.injection, undefined);
    }
    const s = r.source.stats;
    assert.deepEqual([s.blocks, s.failures, s.ignored, s.rejected, s.distrusted], [7, 5, 2, 0, 0]);
  });

  it("reports only the configured events", async () => {
    const r = await run({ events: ["FailedACL"], weights: { "ami-security-event": 2 } });
    await loggedIn(r);
    await replay(r, INVALID_ACCOUNT + FAILED_ACL_AMI + INVALID_PASSWORD, 1);
    assert.deepEqual(ips(r.events), ["203.0.113.9"]);
    assert.equal(r.events[0]!.weight, 2);
    assert.throws(
      () => new AmiSource({ ...sourceBase(), events: ["ChallengeSent"] }),
      /not Asterisk security events that mean a failure/,
    );
    assert.throws(() => new AmiSource({ ...sourceBase(), secret: "a\r\nAction: Originate" }), /one line/);
  });

  it("keeps hostile text in AccountID and SessionID inside its own line", async () => {
    const r = await run();
    await loggedIn(r);
    const hostile = asterisk("InvalidAccountID", {
      service: "PJSIP",
      account: `1001 RemoteAddress: IPV4/UDP/${VICTIM}/5060`,
      session: `a@b RemoteAddress: IPV4/UDP/${VICTIM}/5060`,
      remote: HOSTILE_REMOTE,
    });
    await replay(r, hostile, 1);
    assert.deepEqual(ips(r.events), [ATTACKER]);
    assert.equal(r.events[0]!.port, 5062);
    assert.equal(r.events[0]!.user, `1001 RemoteAddress: IPV4/UDP/${VICTIM}/5060`);
    assert.equal(r.source.stats.rejected, 0);
  });

  it("rejects a block that repeats a key (a smuggled CR/LF adds RemoteAddress): no event for the victim", async () => {
    const r = await run();
    await loggedIn(r);
    const smuggled = asterisk("InvalidPassword", {
      account: `x\r\nRemoteAddress: IPV4/UDP/${VICTIM}/5060`,
      session: "0x7f01",
      remote: HOSTILE_REMOTE,
    });
    await replay(r, smuggled, 0);
    assert.deepEqual(r.events, []);
    assert.equal(r.source.stats.rejected, 1);
    // The window closes once the stream is quiet: later events count again.
    await replay(r, genuine(3), 1);
    assert.deepEqual(ips(r.events), ["198.51.100.3"]);
  });

  it("drops a forged block between the split halves and reports the author of the remainder", async () => {
    const r = await run({ banInjection: true });
    await loggedIn(r);
    const split = asterisk("InvalidPassword", {
      account: `x\r\n\r\n${FORGED_BLOCK}\r\ny`,
      session: "0x7f02",
      remote: HOSTILE_REMOTE,
    });
    await replay(r, genuine(1) + split, 1);
    assert.deepEqual(
      r.events.map((e) => [e.ip, e.rule, e.injection === true, e.instant]),
      [[ATTACKER, "ami-injection", true, true]],
    );
    assert.equal(r.events[0]!.reason, "Log injection attempt (split AMI event)");
    assert.equal(r.events[0]!.port, 5062);
    const s = r.source.stats;
    // The genuine event just before the cut lay within the attacker's reach: dropped too.
    assert.deepEqual([s.incomplete, s.remainders, s.injections, s.distrusted], [1, 1, 1, 2]);
  });

  it("drops a cut start made to look complete with a forged tail, once its remainder follows", async () => {
    const r = await run();
    await loggedIn(r);
    const split = asterisk("InvalidPassword", {
      account: `x\r\nSessionID: 0x1\r\nLocalAddress: IPV4/UDP/192.0.2.10/5060\r\nRemoteAddress: IPV4/UDP/${VICTIM}/5060\r\n\r\ny`,
      session: "0x7f03",
      remote: HOSTILE_REMOTE,
    });
    await replay(r, split, 1);
    assert.deepEqual(
      r.events.map((e) => [e.ip, e.rule]),
      [[ATTACKER, "ami-injection"]],
    );
  });

  it("never blames a forged remainder when the real one is disguised as a whole event", async () => {
    const r = await run();
    await loggedIn(r);
    // The attacker's text: a cut, a "remainder" naming the victim, then an Event: head that the
    // real tail (SessionID ... RemoteAddress: attacker) completes.
    const head = FORGED_BLOCK.slice(0, FORGED_BLOCK.indexOf("AccountID:"));
    const split = asterisk("InvalidPassword", {
      account: `x\r\n\r\ny\r\nRemoteAddress: IPV4/UDP/${VICTIM}/5060\r\n\r\n${head}AccountID: z`,
      session: "0x7f04",
      remote: HOSTILE_REMOTE,
    });
    await replay(r, split, 0);
    assert.deepEqual(r.events, []);
    const s = r.source.stats;
    assert.deepEqual([s.remainders, s.injections, s.unattributed], [1, 0, 1]);
  });

  it("ends the distrust of a lost remainder after the window (or when the stream goes quiet)", async () => {
    const r = await run({ splitWindowBytes: 1024 });
    await loggedIn(r);
    // The cut's remainder merges into the attacker's own Event: head: no remainder block comes.
    const head = FORGED_BLOCK.slice(0, FORGED_BLOCK.indexOf("AccountID:"));
    const cut = asterisk("InvalidPassword", {
      account: `x\r\n\r\n${head}AccountID: z`,
      session: "0x7f05",
      remote: HOSTILE_REMOTE,
    });
    const cutEnd = Buffer.byteLength(cut.slice(0, cut.indexOf("\r\n\r\n") + 4));
    const after = Array.from({ length: 8 }, (_, i) => genuine(10 + i));
    await replay(r, cut + after.join(""), 1);
    // A block counts again once it starts 1024 bytes past the cut.
    let offset = Buffer.byteLength(cut);
    const expected: string[] = [];
    for (const [i, text] of after.entries()) {
      if (offset >= cutEnd + 1024) expected.push(`198.51.100.${10 + i}`);
      offset += Buffer.byteLength(text);
    }
    assert.ok(expected.length > 0 && expected.length < 8, `${expected.length} of 8 past the window`);
    assert.deepEqual(ips(r.events), expected);
    assert.equal(r.source.stats.unattributed, 1);
    // Quiet ends it too: the next write is trusted at once.
    r.events.length = 0;
    await replay(r, cut, 0);
    await replay(r, genuine(30), 1);
    assert.deepEqual(ips(r.events), ["198.51.100.30"]);
  });

  it("reads a block cut into one-byte packets, and waits for a block under way before releasing", async () => {
    const r = await run({ settleMs: 10 });
    await loggedIn(r);
    await r.manager.sendByteByByte(INVALID_PASSWORD);
    await waitFor(
      () => `1 event; have ${r.events.length}, stats ${JSON.stringify(r.source.stats)}`,
      () => r.events.length === 1,
    );
    assert.equal(r.events[0]!.ip, "198.51.100.44");
    // A complete-looking cut start, then its remainder delayed well past the quiet time.
    const split = asterisk("InvalidPassword", {
      account: `x\r\nSessionID: 0x1\r\nLocalAddress: IPV4/UDP/192.0.2.10/5060\r\nRemoteAddress: IPV4/UDP/${VICTIM}/5060\r\n\r\ny`,
      session: "0x7f06",
      remote: HOSTILE_REMOTE,
    });
    const cut = split.indexOf("\r\n\r\n") + 6;
    r.manager.send(split.slice(0, cut));
    await sleep(80);
    r.manager.send(split.slice(cut));
    await waitFor(
      () => `2 events; have ${JSON.stringify(r.events)}`,
      () => r.events.length === 2,
    );
    await sleep(40);
    assert.deepEqual(ips(r.events), ["198.51.100.44", ATTACKER]);
  });

  it("reconnects after the server drops the connection, with backoff, and keeps reading", async () => {
    const r = await run();
    await loggedIn(r);
    await replay(r, INVALID_ACCOUNT, 1);
    r.manager.drop();
    await waitFor(
      withStates(r, "a second login"),
      () => r.manager.logins.length === 2 && r.source.state === "logged-in",
    );
    const lost = r.states.find((s) => s.state === "disconnected")!;
    assert.match(lost.detail, /closed the connection; retrying in \d+ ms/);
    const wait = r.manager.connectedAt[1]! - lost.at;
    assert.ok(wait >= 8 && wait < 1000, `reconnected after ${wait} ms`);
    await replay(r, FAILED_ACL_V6, 2);
    assert.deepEqual(ips(r.events), ["203.0.113.5", "2001:db8::5"]);
    assert.equal(r.source.stats.logins, 2);
    assert.equal(r.source.stats.disconnects, 1);
  });

  it("reports a refused login as auth-failed, backs off doubling to the maximum, and logs in once fixed", async () => {
    const manager = await FakeManager.start({ secret: "other" });
    cleanup.push(() => manager.close());
    const r = await run({ random: () => 1, backoffMinMs: 10, backoffMaxMs: 40 }, {}, manager);
    await waitFor(
      withStates(r, "4 refused logins"),
      () => r.states.filter((s) => s.state === "auth-failed").length >= 4,
    );
    const failed = r.states.filter((s) => s.state === "auth-failed");
    assert.match(
      failed[0]!.detail,
      /refused the login as "sipban": Authentication failed; retrying in 10 ms/,
    );
    assert.deepEqual(
      failed.slice(0, 4).map((s) => Number(/retrying in (\d+) ms/.exec(s.detail)![1])),
      [10, 20, 40, 40],
    );
    assert.ok(r.states.every((s) => !s.detail.includes("s3cret")));
    manager.secret = "s3cret";
    await loggedIn(r);
    assert.ok(r.source.stats.authFailures >= 4);
  });

  it("backs off while nothing listens, and says why", async () => {
    const manager = await FakeManager.start();
    const port = manager.port;
    await manager.close();
    const r = await run({ port, random: () => 0, backoffMinMs: 10, backoffMaxMs: 20 }, {}, manager);
    await waitFor(
      withStates(r, "3 failed connections"),
      () => r.states.filter((s) => s.state === "disconnected").length >= 3,
    );
    const lost = r.states.filter((s) => s.state === "disconnected");
    assert.match(lost[0]!.detail, /ECONNREFUSED.*retrying in 5 ms/);
    assert.match(lost[2]!.detail, /retrying in 10 ms/);
  });

  it("refuses a peer that is no Asterisk manager", async () => {
    const r = await run({}, { banner: "SSH-2.0-OpenSSH_9.6" });
    await waitFor(withStates(r, "a disconnect"), () => r.states.some((s) => s.state === "disconnected"));
    assert.match(
      r.states.find((s) => s.state === "disconnected")!.detail,
      /is no Asterisk manager.*SSH-2\.0/,
    );
    assert.equal(r.manager.logins.length, 0);
  });

  it("drops a connection whose Pings go unanswered", async () => {
    const r = await run({ pingIntervalMs: 40 }, { answerPings: false });
    await loggedIn(r);
    await waitFor(withStates(r, "a disconnect"), () => r.states.some((s) => s.state === "disconnected"));
    assert.match(r.states.find((s) => s.state === "disconnected")!.detail, /did not answer a Ping/);
  });

  it("connects over TLS", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "sipban-ami-"));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    try {
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-days",
          "1",
          "-subj",
          "/CN=localhost",
          "-addext",
          "subjectAltName=IP:127.0.0.1",
          "-keyout",
          join(dir, "key.pem"),
          "-out",
          join(dir, "cert.pem"),
        ],
        { stdio: "ignore", timeout: 10_000 },
      );
    } catch (err) {
      runOrSkip(t, `openssl could not make a test certificate: ${(err as Error).message}`);
      return;
    }
    const cert = readFileSync(join(dir, "cert.pem"), "utf8");
    const key = readFileSync(join(dir, "key.pem"), "utf8");
    const r = await run({ tls: { ca: cert } }, { tls: { key, cert } });
    await loggedIn(r);
    assert.equal(r.source.name, `ami 127.0.0.1:${r.manager.port} (TLS)`);
    await replay(r, INVALID_PASSWORD, 1);
    assert.deepEqual(ips(r.events), ["198.51.100.44"]);
    // Without the CA the certificate is refused, and the source keeps retrying.
    const untrusting = await run({ tls: true }, {}, r.manager);
    await waitFor(withStates(untrusting, "a disconnect"), () =>
      untrusting.states.some((s) => s.state === "disconnected"),
    );
    assert.match(untrusting.states.find((s) => s.state === "disconnected")!.detail, /certificate/i);
  });
});

function sourceBase(): AmiSourceOptions {
  return { host: "127.0.0.1", port: 1, username: "sipban", secret: "s3cret", onEvent: () => {} };
}
