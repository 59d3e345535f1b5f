type NumberColumn = Float64Array | Int32Array | Uint8Array;

/** A copy of `column`, `length` long (the new part zero, or `fill`). */
export function widened<T extends NumberColumn>(column: T, length: number, fill = 0): T {
  const wider = new (column.constructor as new (length: number) => T)(length);
  if (fill !== 0) wider.fill(fill);
  wider.set(column);
  return wider;
}
