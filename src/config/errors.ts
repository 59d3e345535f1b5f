/** A configuration problem, located: `file:line: problem`. */
export class ConfigError extends Error {}
