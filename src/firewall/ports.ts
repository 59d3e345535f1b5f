/** A port or an inclusive range of ports. */
export interface PortRange {
  from: number;
  to: number;
}

/** The ports a "voip"-scoped ban closes, per protocol. */
export interface VoipPorts {
  udp: PortRange[];
  tcp: PortRange[];
}

/** Reads the configuration's port list (`5060` or `"5060-5061"`); throws naming a bad entry. */
export function parsePorts(specs: readonly (number | string)[]): PortRange[] {
  return specs.map((spec) => {
    const [from, to = from] = String(spec).split("-").map(Number);
    if (!isPort(from) || !isPort(to) || from! > to!) {
      throw new Error(`firewall port "${spec}" is not a port from 1 to 65535 or a range such as "5060-5061"`);
    }
    return { from: from!, to: to! };
  });
}

function isPort(n: number | undefined): boolean {
  return n !== undefined && Number.isInteger(n) && n >= 1 && n <= 65_535;
}
