/** The typed arrays that grow by doubling here: the keydirs' and the sync digest's columns. */
export type GrowableArray = Float64Array | Uint32Array | Int32Array | Uint16Array | Uint8Array;

/** A copy of `array` with `length` slots (by default twice its own, at least 16), the new ones zero. */
export function widened<T extends GrowableArray>(array: T, length = Math.max(array.length * 2, 16)): T {
  const wider = new (array.constructor as new (length: number) => T)(Math.max(length, array.length));
  wider.set(array);
  return wider;
}
