// `sipban scan` with every line read by the rules, none by the WebAssembly parser: what the parser
// saves, measured beside the real command (this script skips the command line and prints less).
//   node dist/bench/scan-without-parser.js FILE   -> prints "<lines> <failures> <offenders>"
import { pathToFileURL } from "node:url";
import { defaultConfig } from "../src/config/defaults.js";
import { scanFiles } from "../src/report/scan-files.js";

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write("usage: scan-without-parser FILE\n");
    process.exitCode = 2;
  } else {
    const result = await scanFiles([file], defaultConfig(), { parsedLines: false });
    const offenders = result.report.offenders();
    process.stdout.write(`${result.linesRead} ${result.report.failures} ${offenders.length}\n`);
  }
}
