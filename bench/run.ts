// `npm run bench`: runs every benchmark in turn (or the ones named). Each module compares sipban
// with the alternatives in the same run and prints ratios; see BENCHMARKS.md for recorded figures.
const all = ["scan", "firewall", "policy", "watch"];
const parts = process.argv.slice(2);
const unknown = parts.filter((name) => !all.includes(name));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark: ${unknown.join(", ")} (known: ${all.join(", ")})\n`);
  process.exit(2);
}
for (const name of parts.length > 0 ? parts : all) {
  const mod = (await import(`./${name}.bench.js`)) as { run: () => Promise<void> };
  console.log(`\n=== ${name} ===`);
  await mod.run();
}
