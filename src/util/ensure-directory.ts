import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Creates `dir` and its missing parents, one level at a time. (Node's recursive mkdirSync spins
 * forever on some paths, such as a directory under /proc.) Throws with the path and the reason.
 */
export function ensureDirectory(dir: string, mode: number, what: string): void {
  if (existsSync(dir)) return;
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d, { mode });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new Error(`cannot create ${d} for ${what} (${code})`);
    }
  }
}
