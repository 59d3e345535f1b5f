import type { Config } from "../config/schema.js";
import { type ControlRequest, type ControlResponse, controlRequest } from "../daemon/control.js";
import { InputError } from "../sources/file-reader.js";

/**
 * Asks the running daemon, when there is one (root only: the socket is root's). Returns null
 * when no daemon listens, so the command acts directly on the store and the firewall.
 */
export async function askDaemon(
  config: Config,
  request: ControlRequest,
): Promise<(ControlResponse & { ok: true }) | null> {
  if (process.getuid?.() !== 0) return null;
  const response = await controlRequest(config.daemon.socket, request);
  if (response === null) return null;
  if (!response.ok) throw new InputError(response.error);
  return response;
}
