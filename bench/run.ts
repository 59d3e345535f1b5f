// `npm run bench`: runs every benchmark in turn. Each module compares sipban with the
// alternatives in the same run and prints ratios; see BENCHMARKS.md for recorded figures.
const parts = process.argv.slice(2);
const all = ["scan", "firewall", "policy"];
for (const name of parts.length > 0 ? parts : all) {
  let mod: { run: () => Promise<void> };
  try {
    mod = await import(`./${name}.bench.js`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND") continue;
    throw err;
  }
  console.log(`\n=== ${name} ===`);
  await mod.run();
}
