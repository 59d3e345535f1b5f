// The least a Node scanner that reads failures can cost: sipban's search for one literal, then,
// for each line found, the line decoded, one regular expression for the two commonest formats
// (chan_sip registration, PJSIP request) and a count per address text as written (`ip:port`,
// as the old cron script counts). No other format, no layouts, no split guard, pairing, policy
// or report: what the scan benchmark's target leaves room for.
//   node dist/bench/one-regex.js FILE   -> prints "<address text> <failures>" per address text
import { pathToFileURL } from "node:url";
import { scanInput } from "../src/sources/file-reader.js";
import { LineScanner } from "../src/sources/line-scanner.js";

const FAILURE =
  /^\[[^\]]{1,64}\] [A-Z]+\[\d+\](?:\[C-[0-9a-f]+\])? [^\s:]+: (?:Registration from '.*' failed for '([^'\s]+)' - (?:Wrong password|No matching peer found)|Request '\w+' from '.*' failed for '([^'\s]+)' \(callid: .*\) - (?:No matching endpoint found|Failed to authenticate))$/;

export async function countByAddress(path: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const scanner = new LineScanner(["failed for '"], {
    line: (text) => {
      const m = FAILURE.exec(text);
      if (!m) return;
      const address = m[1] ?? m[2]!;
      counts.set(address, (counts.get(address) ?? 0) + 1);
    },
  });
  await scanInput(path, scanner);
  return counts;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write("usage: one-regex FILE\n");
    process.exitCode = 2;
  } else {
    const counts = await countByAddress(file);
    process.stdout.write([...counts].map(([address, n]) => `${address} ${n}\n`).join(""));
  }
}
