import type { Config } from "../config/schema.js";
import { type ControlRequest, type ControlResponse, controlRequest } from "../daemon/control.js";
import { InputError } from "../sources/file-reader.js";

/**
 * Asks the running daemon, when there is one. Returns null when no daemon listens, so the
 * command acts directly on the store and the firewall. A socket the user may not reach (root's
 * daemon, asked by another user) is an error that says so, not "no daemon".
 */
export async function askDaemon(
  config: Config,
  request: ControlRequest,
): Promise<(ControlResponse & { ok: true }) | null> {
  const response = await controlRequest(config.daemon.socket, request);
  if (response === null) return null;
  if (!response.ok) throw new InputError(response.error);
  return response;
}
