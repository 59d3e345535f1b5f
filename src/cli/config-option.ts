import { existsSync } from "node:fs";
import { defaultConfig } from "../config/defaults.js";
import type { Config } from "../config/schema.js";

export const DEFAULT_CONFIG_PATH = "/etc/sipban/sipban.yaml";

/** The file named by --config, else the default file if it exists; undefined: the built-in defaults. */
export function configFile(path: string | undefined): string | undefined {
  return path ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
}

/**
 * The configuration from `configFile(path)`, or the defaults. The parser and validator are
 * loaded only when there is a file to read.
 */
export async function resolveConfig(path: string | undefined): Promise<Config> {
  const file = configFile(path);
  if (file === undefined) return defaultConfig();
  const { loadConfig } = await import("../config/load.js");
  return loadConfig(file);
}
