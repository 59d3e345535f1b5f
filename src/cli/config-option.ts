import { existsSync } from "node:fs";
import { defaultConfig, loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";

export const DEFAULT_CONFIG_PATH = "/etc/sipban/sipban.yaml";

/** The configuration named by --config, else the default file if it exists, else the defaults. */
export function resolveConfig(path: string | undefined): Config {
  if (path !== undefined) return loadConfig(path);
  if (existsSync(DEFAULT_CONFIG_PATH)) return loadConfig(DEFAULT_CONFIG_PATH);
  return defaultConfig();
}
