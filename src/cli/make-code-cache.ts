// Makes the CLI bundle's code cache (run by `npm run build:cli`, its output thrown away): runs
// `sipban scan --json` on the sample log and configuration once, so that the cache holds the
// bytecode of every function a scan compiles, and writes it where the launcher reads it. A scan
// that fails fails the build, and leaves no cache; so does a Node without zlib.crc32 (see
// launch.cts).
import { rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { BUNDLE, CODE_CACHE, codeCacheFile, compileBundle, readBundle, runBundle } from "./launch.cjs";

const example = (name: string) => fileURLToPath(new URL(`../../../examples/${name}`, import.meta.url));

rmSync(CODE_CACHE, { force: true });
const bundle = readBundle();
const script = compileBundle(bundle);
process.argv = [
  process.execPath,
  BUNDLE,
  "--config",
  example("sipban.yaml"),
  "scan",
  "--json",
  example("asterisk-messages.log"),
];
process.on("exit", (code) => {
  const cache = code === 0 ? codeCacheFile(bundle, script) : undefined;
  if (cache !== undefined) writeFileSync(CODE_CACHE, cache);
});
runBundle(script);
