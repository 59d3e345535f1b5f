import { existsSync } from "node:fs";
import { defaultConfig } from "../config/defaults.js";
import type { Config } from "../config/schema.js";

export const DEFAULT_CONFIG_PATH = "/etc/sipban/sipban.yaml";

/**
 * The configuration named by --config, else the default file if it exists, else the defaults.
 * The parser and validator are loaded only when there is a file to read.
 */
export async function resolveConfig(path: string | undefined): Promise<Config> {
  const file = path ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
  if (file === undefined) return defaultConfig();
  const { loadConfig } = await import("../config/load.js");
  return loadConfig(file);
}
