type Slice = (this: Buffer, start: number, end: number) => string;

// Buffer's own UTF-8 decoder without the argument checks of `toString`, which cost more than
// decoding a log line. Not in Node's documented API, hence the fallback.
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: Slice }).utf8Slice;

/** buf[start, end) decoded as UTF-8 (start <= end <= buf.length). */
export function utf8(buf: Buffer, start: number, end: number): string {
  return utf8Slice !== undefined ? utf8Slice.call(buf, start, end) : buf.toString("utf8", start, end);
}
