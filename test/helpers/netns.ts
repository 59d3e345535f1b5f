/**
 * A small network lab for tests that need a real kernel: three network namespaces, "pbx",
 * "attacker" and "friend", on one bridge (in a fourth, "lan"), with addresses from documentation
 * ranges, inside the namespaces only: pbx 192.0.2.10 and 2001:db8:5060::10, attacker .20 and
 * ::20, friend .30 and ::30. Names are unique per process and lab (`sb-<pid>-<n>-pbx`), so test
 * files may run side by side. The pbx listens on UDP 5060 and 5070, echoing every datagram back, and on
 * TCP 5060. Nothing runs on the host's own network stack or ruleset.
 *
 *   test("...", async (t) => {
 *     if (!requireRootOrSkip(t, ["nft"])) return;
 *     const lab = await createLab(t);        // destroyed after the test, pass or fail
 *     await lab.attacker.sendUdp(lab.pbx.v4, 5060, "REGISTER 1");
 *     assert.ok(await lab.pbx.received("REGISTER 1"));
 *     await lab.pbx.exec("nft", ["list", "ruleset"]);   // runs inside the pbx namespace
 *   });
 *
 * Every wait is bounded; every namespace and process is removed by `destroy` (run by the test's
 * `after` hook) and, should the test process die first, at its exit.
 */
import { type ChildProcessWithoutNullStreams, execFile, execFileSync, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";
import type { TestContext } from "node:test";

/** The UDP ports the pbx listens on (echoing each datagram), and its TCP port. */
export const PBX_UDP_PORTS = [5060, 5070] as const;
export const PBX_TCP_PORT = 5060;

/** How long `received` and `connectTcp` wait by default. */
export const ARRIVAL_WAIT_MS = 2000;

/**
 * True when the test can run: root, with `ip` and every tool of `tools` on PATH. Otherwise the
 * test is skipped with the reason, or fails when SIPBAN_REQUIRE_ROOT_TESTS=1 (as in CI).
 */
export function requireRootOrSkip(t: TestContext, tools: readonly string[] = []): boolean {
  const missing = ["ip", ...tools].filter((tool) => !onPath(tool));
  const problem =
    process.getuid?.() !== 0
      ? "needs root: creates network namespaces and changes their firewall"
      : missing.length > 0
        ? `needs ${missing.join(", ")}: not installed`
        : null;
  return runOrSkip(t, problem);
}

/**
 * True when `problem` is null. Otherwise the test is skipped with the problem as its reason, or
 * fails when SIPBAN_REQUIRE_ROOT_TESTS=1 (as in CI, where nothing may be skipped).
 */
export function runOrSkip(t: TestContext, problem: string | null): boolean {
  if (problem === null) return true;
  if (process.env.SIPBAN_REQUIRE_ROOT_TESTS === "1") {
    throw new Error(`${problem} (SIPBAN_REQUIRE_ROOT_TESTS=1 makes this a failure, not a skip)`);
  }
  t.skip(problem);
  return false;
}

export interface Host {
  /** The namespace's name. */
  readonly ns: string;
  readonly v4: string;
  readonly v6: string;
  /** `ip netns exec <ns>`: put before a command to run it here (createBackend's `commandPrefix`). */
  readonly commandPrefix: readonly string[];
  /** Runs `command args...` in this namespace (no shell); resolves with its stdout. */
  exec(command: string, args?: readonly string[], input?: string): Promise<string>;
  /** Sends one UDP datagram; with `fromPort`, always from that port's socket (one flow). */
  sendUdp(to: string, port: number, payload: string, fromPort?: number): Promise<void>;
  /** Whether a TCP connection to `to`:`port` opens within `waitMs`; sends `payload` on it. */
  connectTcp(to: string, port: number, payload: string, waitMs?: number): Promise<boolean>;
  /**
   * Whether `payload` arrived here within `waitMs`: on the pbx, a datagram or TCP data; elsewhere
   * the pbx's echo of a datagram this host sent.
   */
  received(payload: string, waitMs?: number): Promise<boolean>;
}

export interface Lab {
  pbx: Host;
  attacker: Host;
  friend: Host;
  /** Stops the hosts' processes and deletes the namespaces; safe to call twice. */
  destroy(): Promise<void>;
}

/** Builds the lab; with `t`, its destruction is registered as the test's `after` hook. */
export async function createLab(t?: TestContext): Promise<Lab> {
  const base = `sb-${process.pid}-${++labCount}`;
  const lan = `${base}-lan`;
  const plan = [
    { role: "pbx", host: 10 },
    { role: "attacker", host: 20 },
    { role: "friend", host: 30 },
  ] as const;
  const names = [lan, ...plan.map(({ role }) => `${base}-${role}`)];
  const agents: Agent[] = [];
  let destroyed = false;
  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    await Promise.all(agents.map((agent) => agent.stop()));
    for (const ns of names) await run("ip", ["netns", "del", ns]).catch(() => {});
    for (const ns of names) liveNamespaces.delete(ns);
  };
  t?.after(destroy);
  try {
    for (const ns of names) {
      await run("ip", ["netns", "add", ns]);
      liveNamespaces.add(ns);
    }
    await run("ip", ["-n", lan, "link", "add", "br0", "up", "type", "bridge", "mcast_snooping", "0"]);
    // allSettled, not all: a failure must not leave other hosts' setup running past destroy().
    const settled = await Promise.allSettled(
      plan.map(async ({ role, host }) => {
        const ns = `${base}-${role}`;
        const v4 = `192.0.2.${host}`;
        const v6 = `2001:db8:5060::${host}`;
        const veth = ["link", "add", role, "type", "veth", "peer", "name", "eth0", "netns", ns];
        await run("ip", ["-n", lan, ...veth]);
        await run("ip", ["-n", lan, "link", "set", role, "master", "br0", "up"]);
        await run("ip", ["-n", ns, "addr", "add", `${v4}/24`, "dev", "eth0"]);
        // nodad: the address is usable at once instead of after duplicate detection.
        await run("ip", ["-n", ns, "addr", "add", `${v6}/64`, "dev", "eth0", "nodad"]);
        await run("ip", ["-n", ns, "link", "set", "eth0", "up"]);
        await run("ip", ["-n", ns, "link", "set", "lo", "up"]);
        const agent = Agent.spawn(ns);
        agents.push(agent);
        await agent.request("ping", {});
        if (role === "pbx") await agent.request("listen", { udp: PBX_UDP_PORTS, tcp: [PBX_TCP_PORT] });
        return makeHost(ns, v4, v6, agent);
      }),
    );
    const hosts = settled.map((result) => {
      if (result.status === "rejected") throw result.reason;
      return result.value;
    });
    return { pbx: hosts[0]!, attacker: hosts[1]!, friend: hosts[2]!, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}

let labCount = 0;
const liveNamespaces = new Set<string>();
const liveAgents = new Set<ChildProcessWithoutNullStreams>();

// Last resort when the test process ends without its after hooks: nothing is left behind.
process.once("exit", () => {
  for (const child of liveAgents) child.kill("SIGKILL");
  for (const ns of liveNamespaces) {
    try {
      execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    } catch {}
  }
});

function makeHost(ns: string, v4: string, v6: string, agent: Agent): Host {
  const commandPrefix = ["ip", "netns", "exec", ns];
  return {
    ns,
    v4,
    v6,
    commandPrefix,
    exec: (command, args = [], input) =>
      run(commandPrefix[0]!, [...commandPrefix.slice(1), command, ...args], input),
    sendUdp: async (to, port, payload, fromPort) => {
      await agent.request("sendUdp", { to, port, payload, fromPort });
    },
    connectTcp: async (to, port, payload, waitMs = ARRIVAL_WAIT_MS) =>
      (await agent.request("connectTcp", { to, port, payload, waitMs })) === true,
    received: (payload, waitMs = ARRIVAL_WAIT_MS) => agent.received(payload, waitMs),
  };
}

/** execFile with optional stdin; rejects with the command and what it printed on stderr. */
function run(command: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { maxBuffer: 256 * 1024 * 1024, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${command} ${args.join(" ")}: ${stderr.trim() || err.message}`));
        else resolve(stdout);
      },
    );
    child.stdin?.on("error", () => {});
    child.stdin?.end(input);
  });
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

// Generous: starting node under a loaded CI machine can take seconds.
const REQUEST_WAIT_MS = 10_000;

/**
 * A node process inside a namespace that sends and receives on the test's behalf: commands as
 * JSON lines on its stdin, answers and arrivals as JSON lines on its stdout.
 */
class Agent {
  private readonly arrived = new Set<string>();
  private readonly waiters = new Set<() => void>();
  private readonly answers = new Map<
    number,
    (answer: { ok: boolean; result?: unknown; error?: string }) => void
  >();
  private nextId = 1;

  private constructor(
    private readonly ns: string,
    private readonly child: ChildProcessWithoutNullStreams,
  ) {
    createInterface({ input: child.stdout }).on("line", (line) => {
      const message = JSON.parse(line) as { id?: number; event?: string; payload?: string; ok: boolean };
      if (message.event === "received") {
        this.arrived.add(message.payload!);
        for (const wake of this.waiters) wake();
      } else if (message.id !== undefined) this.answers.get(message.id)?.(message);
    });
  }

  static spawn(ns: string): Agent {
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", AGENT_SCRIPT]);
    child.stderr.resume();
    liveAgents.add(child);
    child.once("exit", () => liveAgents.delete(child));
    return new Agent(ns, child);
  }

  request(op: string, args: object): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.answers.delete(id);
        reject(new Error(`the test agent in ${this.ns} did not answer "${op}" within ${REQUEST_WAIT_MS} ms`));
      }, REQUEST_WAIT_MS);
      this.answers.set(id, (answer) => {
        clearTimeout(timer);
        this.answers.delete(id);
        if (answer.ok) resolve(answer.result);
        else reject(new Error(`${op} in ${this.ns}: ${answer.error}`));
      });
      this.child.stdin.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  }

  received(payload: string, waitMs: number): Promise<boolean> {
    if (this.arrived.has(payload)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (result: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(result);
      };
      const wake = () => {
        if (this.arrived.has(payload)) finish(true);
      };
      const timer = setTimeout(() => finish(false), waitMs);
      this.waiters.add(wake);
    });
  }

  /** Ends the process: closing its stdin makes it exit; killed if it has not within 1 s. */
  stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 1000);
      this.child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.stdin.end();
    });
  }
}

// Plain CommonJS run with `node -e` inside the namespace.
const AGENT_SCRIPT = `
const dgram = require("node:dgram");
const net = require("node:net");
const emit = (message) => process.stdout.write(JSON.stringify(message) + "\\n");
const flows = new Map();
const bound = (socket, port, host) =>
  new Promise((resolve, reject) => { socket.once("error", reject); socket.bind(port, host, () => resolve(socket)); });
async function udpSocket(to, fromPort) {
  const type = net.isIP(to) === 6 ? "udp6" : "udp4";
  const key = type + ":" + fromPort;
  if (fromPort && flows.has(key)) return flows.get(key);
  const socket = dgram.createSocket(type);
  socket.on("message", (m) => emit({ event: "received", payload: m.toString() }));
  await bound(socket, fromPort || 0);
  if (fromPort) flows.set(key, socket);
  else setTimeout(() => socket.close(), 3000).unref();
  return socket;
}
const ops = {
  ping: async () => true,
  async listen({ udp, tcp }) {
    for (const port of udp) {
      const socket = dgram.createSocket({ type: "udp6", ipv6Only: false });
      socket.on("message", (m, from) => {
        emit({ event: "received", payload: m.toString() });
        socket.send(m, from.port, from.address);
      });
      await bound(socket, port, "::");
    }
    for (const port of tcp) {
      const server = net.createServer((c) => {
        c.on("data", (d) => emit({ event: "received", payload: d.toString() }));
        c.on("error", () => {});
      });
      await new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen({ port, host: "::", ipv6Only: false }, resolve);
      });
    }
    return true;
  },
  async sendUdp({ to, port, payload, fromPort }) {
    const socket = await udpSocket(to, fromPort);
    await new Promise((resolve, reject) => socket.send(payload, port, to, (e) => (e ? reject(e) : resolve())));
    return true;
  },
  connectTcp: ({ to, port, payload, waitMs }) =>
    new Promise((resolve) => {
      const c = net.connect({ host: to, port });
      const timer = setTimeout(() => { c.destroy(); resolve(false); }, waitMs);
      c.on("connect", () => { clearTimeout(timer); c.end(payload); resolve(true); });
      c.on("error", () => { clearTimeout(timer); resolve(false); });
    }),
};
require("node:readline").createInterface({ input: process.stdin }).on("line", (line) => {
  const { id, op, ...args } = JSON.parse(line);
  Promise.resolve()
    .then(() => ops[op](args))
    .then((result) => emit({ id, ok: true, result }), (e) => emit({ id, ok: false, error: String(e && e.message) }));
});
process.stdin.on("end", () => process.exit(0));
`;
