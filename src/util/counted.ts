/** "1 failure", "2 failures", "1,500 addresses": a count with its noun, in the number it needs. */
export function counted(count: number, noun: string, plural = `${noun}s`): string {
  return `${count.toLocaleString("en")} ${count === 1 ? noun : plural}`;
}
