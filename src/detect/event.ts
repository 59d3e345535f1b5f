/** Which program or protocol a failure was seen in. */
export type Service =
  | "sip"
  | "pjsip"
  | "iax2"
  | "ami"
  | "security"
  | "honeypot"
  | "freeswitch"
  | "kamailio"
  | "custom";

/** One failed attempt by one address, as read from one log line. */
export interface FailureEvent {
  /** Milliseconds since the epoch, from the log line's own time stamp. */
  time: number;
  ip: string;
  port?: number;
  service: Service;
  /** Human words for why it failed: "Wrong password", "No matching endpoint found", ... */
  reason: string;
  /** The account or user name that was tried, when the line names it. Attacker-written. */
  user?: string;
  /** Id of the rule that matched. */
  rule: string;
  /** How much this failure counts toward `maxretry` (1 for most rules). */
  weight: number;
  /** Ban at once, whatever the count (honeypots, caught injection attempts). */
  instant: boolean;
  /** Attempts this line stands for (PJSIP's "after N tries" lines can stand for several). */
  attempts: number;
  /** The line forged or split a record: this address tried to inject log lines. */
  injection?: boolean;
  /** SIP Call-ID, kept only to pair a NOTICE line with its security event. */
  callId?: string;
  /** The log line it was read from, kept as the sample in a ban's evidence. */
  line?: string;
}

/** An event with every field present, in one order (one shape for all of them). */
export function blankEvent(): FailureEvent {
  return {
    time: 0,
    ip: "",
    port: undefined,
    service: "custom",
    reason: "",
    user: undefined,
    rule: "",
    weight: 1,
    instant: false,
    attempts: 1,
    callId: undefined,
    injection: undefined,
    line: undefined,
  };
}

/** A parsed log line: when, how severe, which source file of the server, and the text. */
export interface LogRecord {
  time: number;
  level: string;
  /** Source file as the server printed it (`chan_sip.c`, `res_pjsip/pjsip_distributor.c`, `Ext. s`). */
  component: string;
  message: string;
  /** Asterisk's prefix without the rest of its layout: the record was split (see SplitGuard). */
  broken?: boolean;
}
