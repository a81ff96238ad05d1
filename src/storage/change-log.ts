/**
 * The in-memory changes index of the engines that keep their state in this process (memory, file):
 * for every (collection, uid) the seq of its last change, readable in seq order from any seq.
 *
 * A seq is reserved before a write is made durable (FileStorage writes it into the journal line)
 * and committed once the write is visible, so commits may arrive out of seq order. Readers see
 * only seqs below the lowest one still in flight (the horizon): a reader must never be handed a seq
 * past a lower one that is yet to commit, or it would skip that write for good.
 *
 * Cost per write: a Map update and an append (an insertion a few places from the end when commits
 * cross); superseded slots are compacted away once they outnumber the live ones, so memory stays
 * at about one slot (~100 bytes) per uid.
 */
import { cursorExpired } from "../errors.ts";
import type { ChangeRef, ChangesOptions, ChangesPage } from "./types.ts";
import { partitionPoint } from "../util/partition-point.ts";

export interface ChangeLog {
  /** The highest seq readers may see: every seq at or below it is committed or abandoned. */
  horizon(): number;
  /** The highest seq handed out so far (in flight included). */
  reserved(): number;
  /** Seqs of changes that were forgotten (purged tombstones) are at or below this: older cursors are expired. */
  floor(): number;
  /** The seq of a uid's last change, if it has one. */
  seqOf(collection: string, uid: string): number | undefined;
  /** A seq for a write about to be made; `commit` or `abandon` it. */
  reserve(): number;
  /** The write reserved as `seq` is visible: (collection, uid) changed at `seq`; `removed` for a purge. */
  commit(seq: number, collection: string, uid: string, removed?: boolean): void;
  /** The write reserved as `seq` was not made. */
  abandon(seq: number): void;
  /** A change found at start (a file, a journal line): kept if newer than what the uid has. Raises the counter. */
  load(seq: number, collection: string, uid: string, removed?: boolean, floor?: number): void;
  /** Raises the counter (a restart skips seqs a crash may have handed out unpersisted) and the floor. */
  advanceTo(seq: number, floor?: number): void;
  /** Changes after `since`, up to the horizon, in seq order; `cursor_expired` for a seq it cannot answer for. */
  changesSince(since: number | "now", options: ChangesOptions): ChangesPage<ChangeRef>;
  /** Every uid with its seq: to write the index out again. */
  live(): IterableIterator<ChangeRef>;
  readonly size: number;
}

export function createChangeLog(): ChangeLog {
  let counter = 0;
  let floor = 0;
  // Seqs reserved and not yet committed or abandoned, in reservation (= seq) order.
  const inFlight = new Set<number>();
  const latest = new Map<string, Slot>();
  // Ascending by seq; a slot is live while `latest` holds that very ref.
  let slots: Slot[] = [];
  // Changes loaded at start arrive in file order: sorted once, on first use.
  let unsorted = false;

  const keyOf = (collection: string, uid: string) => `${collection}/${uid}`;

  const sortIfLoaded = () => {
    if (!unsorted) return;
    unsorted = false;
    slots = slots.filter((slot) => latest.get(slot.key) === slot).sort((a, b) => a.seq - b.seq);
  };

  let loading = false;
  const place = (ref: Slot) => {
    if (loading) return void slots.push(ref);
    sortIfLoaded();
    slots.push(ref);
    // Commits crossing each other: move the new slot back to its place (a step or two at most).
    for (let index = slots.length - 1; index > 0 && slots[index - 1]!.seq > ref.seq; index--) {
      slots[index] = slots[index - 1]!;
      slots[index - 1] = ref;
    }
    if (slots.length > 1024 && slots.length > 2 * latest.size) slots = slots.filter((slot) => latest.get(slot.key) === slot);
  };

  const apply = (seq: number, collection: string, uid: string, removed: boolean) => {
    const key = keyOf(collection, uid);
    const before = latest.get(key);
    if (before && before.seq >= seq) return;
    if (removed) {
      // A reader that had not yet seen `before` can no longer learn that the uid went away.
      if (before) floor = Math.max(floor, before.seq);
      latest.delete(key);
      return;
    }
    const ref: Slot = { seq, collection, uid, key };
    latest.set(key, ref);
    place(ref);
  };

  const lowerBound = (since: number) => partitionPoint(slots.length, (index) => slots[index]!.seq <= since);

  const horizon = () => {
    for (const seq of inFlight) return seq - 1;
    return counter;
  };

  return {
    horizon,
    reserved: () => counter,
    floor: () => floor,
    seqOf: (collection, uid) => latest.get(keyOf(collection, uid))?.seq,
    reserve() {
      inFlight.add(++counter);
      return counter;
    },
    commit(seq, collection, uid, removed = false) {
      inFlight.delete(seq);
      apply(seq, collection, uid, removed);
    },
    abandon(seq) {
      inFlight.delete(seq);
    },
    load(seq, collection, uid, removed = false, loadedFloor = 0) {
      unsorted = loading = true;
      counter = Math.max(counter, seq);
      floor = Math.max(floor, loadedFloor);
      apply(seq, collection, uid, removed);
      loading = false;
    },
    advanceTo(seq, atLeastFloor = 0) {
      counter = Math.max(counter, seq);
      floor = Math.max(floor, atLeastFloor);
    },
    changesSince(since, { collection, limit }) {
      if (since === "now") return { changes: [], lastSeq: horizon() };
      checkSince(since, counter, floor);
      sortIfLoaded();
      const end = horizon();
      const changes: ChangeRef[] = [];
      for (let index = lowerBound(since); index < slots.length; index++) {
        const slot = slots[index]!;
        if (slot.seq > end) break;
        if (collection !== undefined && slot.collection !== collection) continue;
        if (latest.get(keyOf(slot.collection, slot.uid)) !== slot) continue;
        changes.push(slot);
        if (changes.length === limit) return { changes, lastSeq: slot.seq };
      }
      return { changes, lastSeq: Math.max(since, end) };
    },
    live: () => latest.values(),
    get size() {
      return latest.size;
    },
  };
}

/** A change with its map key kept, so compaction builds no strings. */
interface Slot extends ChangeRef {
  key: string;
}

/** The rule every engine keeps: a seq beyond what was handed out, or before forgotten changes, cannot be continued. */
export function checkSince(since: number, reserved: number, floor: number): void {
  if (since > reserved) throw cursorExpired("it is ahead of this storage's history: the data was restored or replaced");
  // From the beginning (0) is always whole: it shows every uid's current state.
  if (since > 0 && since < floor) throw cursorExpired("changes after it were forgotten: tombstones older than the retention were purged");
}
