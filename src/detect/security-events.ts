// Asterisk's security events (main/security_events.c), as both the security log file and the
// manager interface (AMI) report them.

/** Security events that can count as failures, with the words for them. */
export const FAILURE_REASONS: Readonly<Record<string, string>> = {
  InvalidAccountID: "Invalid account",
  ChallengeResponseFailed: "Challenge response failed",
  InvalidPassword: "Invalid password",
  FailedACL: "Failed ACL",
  RequestNotAllowed: "Request not allowed",
  AuthMethodNotAllowed: "Authentication method not allowed",
  InvalidTransport: "Invalid transport",
  UnexpectedAddress: "Unexpected address",
  RequestBadFormat: "Bad request format",
  RequestNotSupported: "Request not supported",
  SessionLimit: "Session limit",
  LoadAverageLimit: "Load average limit",
  MemoryLimit: "Memory limit",
};

/** Counted by default: the four that mean "someone tried credentials and failed". */
export const DEFAULT_FAILURES: readonly string[] = [
  "InvalidAccountID",
  "ChallengeResponseFailed",
  "InvalidPassword",
  "FailedACL",
];
