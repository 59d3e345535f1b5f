import type { FailureEvent } from "../../src/detect/event.js";

/** A chan_sip wrong-password failure from `ip` at `time`, with any field overridden. */
export function failure(ip: string, time: number, extra: Partial<FailureEvent> = {}): FailureEvent {
  return {
    time,
    ip,
    service: "sip",
    reason: "Wrong password",
    rule: "sip-register",
    weight: 1,
    instant: false,
    attempts: 1,
    ...extra,
  };
}
