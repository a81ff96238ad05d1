/** A new random storage id: 16 lowercase hex characters (64 bits), the part of a cursor that names its seq space. */
export function newStorageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export const STORAGE_ID_PATTERN = /^[0-9a-f]{16}$/;
