/**
 * Checks a backup stream's trailer as the stream goes by, without holding more than its last line:
 * every byte before the last line is hashed, the last line (the trailer, if the stream is whole) is
 * kept, and at the end its count and SHA-256 are compared with what came before. `minstore export`
 * uses it to say whether what it wrote is a complete backup.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

export interface TrailerVerdict {
  /** Lines before the last one. */
  entries: number;
  /** The last line parsed as a trailer, or undefined when the stream ended without one (cut short). */
  trailer?: { count: number; sha256: string };
  computed: string;
  verified: boolean;
}

export interface TrailerCheck {
  push(chunk: Uint8Array): void;
  finish(): TrailerVerdict;
}

export function createTrailerCheck(): TrailerCheck {
  const hash = sha256.create();
  let held: Uint8Array = new Uint8Array(0);
  let newlines = 0;
  return {
    push(chunk) {
      for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, at + 1)) newlines += 1;
      const all = held.length === 0 ? chunk : concat(held, chunk);
      // Everything up to the start of the last (possibly still growing) line is final: hash it.
      const end = all[all.length - 1] === 0x0a ? all.length - 1 : all.length;
      const cut = all.lastIndexOf(0x0a, end - 1) + 1;
      if (cut > 0) hash.update(all.subarray(0, cut));
      held = all.slice(cut);
    },
    finish() {
      const computed = bytesToHex(hash.digest());
      const lastEnds = held[held.length - 1] === 0x0a;
      const entries = newlines - (lastEnds ? 1 : 0);
      let trailer: TrailerVerdict["trailer"];
      try {
        const data = JSON.parse(new TextDecoder().decode(held));
        if (data?.trailer === true && typeof data.count === "number" && typeof data.sha256 === "string") trailer = { count: data.count, sha256: data.sha256 };
      } catch {
        trailer = undefined;
      }
      return { entries, trailer, computed, verified: trailer !== undefined && trailer.count === entries && trailer.sha256 === computed };
    },
  };
}

// --- Internal helpers ---

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
