import { spawn } from "node:child_process";

/**
 * Runs one firewall tool with an argument array, never through a shell, optionally feeding it
 * `input` on stdin (`nft -f -`, `ipset restore`, `iptables-restore`). Resolves with its stdout.
 */
export type RunCommand = (command: string, args: readonly string[], input?: string) => Promise<string>;

/**
 * A firewall tool failed or could not be started; `message` is one sentence for a person,
 * `stderr` what the tool itself said (empty when it never ran).
 */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = "CommandError";
  }
}

/** Whether `err` is a tool's failure in which the tool said `text`. */
export function toolSaid(err: unknown, text: string): err is CommandError {
  return err instanceof CommandError && err.stderr.includes(text);
}

/** `err` (a tool's failure) explained as sipban's structure missing from the kernel. */
export function notSetUp(err: CommandError, backend: string): CommandError {
  return new CommandError(
    `${err.message}: sipban's ${backend} firewall is not set up (\`sipban firewall setup\` creates it)`,
    err.stderr,
  );
}

/** The Debian package that ships each tool, for the "not installed" hint. */
const PACKAGE_OF: Record<string, string> = {
  nft: "nftables",
  ipset: "ipset",
  iptables: "iptables",
  "iptables-save": "iptables",
  "iptables-restore": "iptables",
  ip6tables: "iptables",
  "ip6tables-save": "iptables",
  "ip6tables-restore": "iptables",
  ip: "iproute2",
};

const DEFAULT_TIMEOUT_MS = 120_000;

/**
 * `prefix` runs every command through another one, e.g. `["ip", "netns", "exec", "sb-pbx"]` so
 * tests and benchmarks work inside a network namespace and never on the host's own ruleset.
 */
export function commandRunner(prefix: readonly string[] = [], timeoutMs = DEFAULT_TIMEOUT_MS): RunCommand {
  return (command, args, input) =>
    new Promise((resolve, reject) => {
      const argv = [...prefix, command, ...args];
      const shown = [command, ...args].join(" ");
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
      // Our own timer, not spawn's `timeout`: that one is left running when the program is missing.
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, timeoutMs);
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
      // A tool that dies early closes its stdin; its exit status tells why, not EPIPE.
      child.stdin.on("error", () => {});
      child.stdin.end(input);
      child.on("error", (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const program = argv[0]!;
        reject(
          err.code === "ENOENT"
            ? new CommandError(notInstalled(program), "")
            : new CommandError(`${shown} could not be started: ${err.message}`, ""),
        );
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        const said = Buffer.concat(stderr).toString("utf8");
        if (code === 0) resolve(Buffer.concat(stdout).toString("utf8"));
        else if (timedOut) {
          reject(
            new CommandError(`${shown} did not finish within ${timeoutMs / 1000} s and was stopped`, said),
          );
        } else if (reportsMissing(command, code, said)) reject(new CommandError(notInstalled(command), ""));
        else reject(new CommandError(describeFailure(shown, code, said), said));
      });
    });
}

/** `ip netns exec` (255) and `env` (127) report a program they cannot find on stderr, not by ENOENT. */
function reportsMissing(command: string, code: number | null, said: string): boolean {
  return (
    (code === 127 || code === 255) && said.includes("No such file or directory") && said.includes(command)
  );
}

function describeFailure(shown: string, code: number | null, said: string): string {
  const first = said.split("\n").find((line) => line.trim() !== "") ?? `exit status ${code}`;
  const text = first.length > 300 ? `${first.slice(0, 300)}...` : first.trim();
  const hint = /not permitted|permission denied|must be root/i.test(text)
    ? " (sipban must run as root or with CAP_NET_ADMIN)"
    : "";
  return `${shown} failed: ${text}${hint}`;
}

function notInstalled(program: string): string {
  const pkg = PACKAGE_OF[program];
  return pkg === undefined
    ? `${program} is not installed`
    : `${program} is not installed (apt-get install ${pkg})`;
}
