/**
 * Texts numbered in the order first seen, so that columns of numbers can stand for them. The
 * last text asked is remembered: failures come in runs of the same reason or user.
 */
export class TextNumbers {
  private readonly texts: string[] = [];
  private readonly ids = new Map<string, number>();
  private lastText: string | undefined;
  private lastId = -1;

  /** The text's number, given it when new. */
  id(text: string): number {
    let id = this.known(text);
    if (id === undefined) {
      id = this.texts.length;
      // A flat copy: a sliced string would keep its whole log line alive.
      const copy = flatten(text);
      this.texts.push(copy);
      this.ids.set(copy, id);
    }
    this.lastText = text;
    this.lastId = id;
    return id;
  }

  /** The text's number, if it has one. */
  private known(text: string): number | undefined {
    return text === this.lastText ? this.lastId : this.ids.get(text);
  }

  text(id: number): string {
    return this.texts[id]!;
  }

  /** Texts numbered so far: their numbers are 0 to size - 1. */
  get size(): number {
    return this.texts.length;
  }
}

/** A copy of `text` that shares no memory with the string it was cut from. */
export function flatten(text: string): string {
  return text.length < 13 ? text : (" " + text).slice(1);
}
