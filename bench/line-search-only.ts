// The first stages of `sipban scan` alone, to show where its time goes: the file in chunks, the
// WebAssembly search for the rules' literals, the line count, and each line found decoded (the
// part the Node floor, bench/floor.ts, compares with); with --detect, also the detector as scan
// runs it (the WebAssembly parser, layouts, rules, split guard, pairing), but no counting per
// address, policy or report; with --parse, the WebAssembly parser too, but nothing done with what
// it read (a line it could not read is decoded).
//   node dist/bench/line-search-only.js [--detect|--parse] FILE   -> prints "<lines> <lines found> <events>"
import { pathToFileURL } from "node:url";
import { defaultConfig } from "../src/config/defaults.js";
import { Detector } from "../src/detect/detector.js";
import { buildRules } from "../src/detect/ruleset.js";
import { scanInput } from "../src/sources/file-reader.js";
import { LineScanner } from "../src/sources/line-scanner.js";

export async function searchOnly(
  path: string,
  detect: boolean,
  parseOnly = false,
): Promise<{ lines: number; found: number; events: number }> {
  let found = 0;
  let events = 0;
  const detector = new Detector(
    { rules: buildRules(defaultConfig().detect), parsedLines: detect || parseOnly },
    () => {
      events++;
    },
  );
  const scanner = new LineScanner((sample) => detector.literalsFor(sample), {
    line: (text, offset) => {
      found++;
      if (detect) detector.line(text, offset);
    },
    parser: detector.parser,
    parsed: (fields, at, chunk, offset, length) => {
      if (parseOnly) {
        found++;
        return true;
      }
      const took = detector.parsed(fields, at, chunk, offset, length);
      if (took) found++;
      return took;
    },
  });
  await scanInput(path, scanner);
  detector.flush();
  return { lines: scanner.linesRead, found, events };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const detect = args[0] === "--detect";
  const parseOnly = args[0] === "--parse";
  const file = detect || parseOnly ? args[1] : args[0];
  if (!file) {
    process.stderr.write("usage: line-search-only [--detect|--parse] FILE\n");
    process.exitCode = 2;
  } else {
    const { lines, found, events } = await searchOnly(file, detect, parseOnly);
    process.stdout.write(`${lines} ${found} ${events}\n`);
  }
}
