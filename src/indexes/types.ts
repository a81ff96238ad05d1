/** What a node's indexes offer the routes and start-up, whoever keeps them (memory-index.ts or the engine). */
import type { Storage } from "../storage/types.ts";
import type { IndexDefinition } from "./definition.ts";
import type { IndexHit, IndexRange } from "./range.ts";

export interface IndexStatus extends IndexDefinition {
  state: "building" | "ready";
  /** Keys in the index now (records whose field has the index's type). */
  entries: number;
  /** While building: how many stored entries the build has read so far. */
  scanned?: number;
}

export interface Indexes {
  /** `storage`, with every successful write noted in the indexes of its collection. */
  readonly storage: Storage;
  list(collection?: string): Promise<IndexStatus[]>;
  status(collection: string, field: string): Promise<IndexStatus | undefined>;
  /** Declares (or retypes) an index and persists the definition; an identical one stays as it is. */
  define(definition: IndexDefinition): Promise<IndexStatus>;
  /** False when there was no such index. */
  drop(collection: string, field: string): Promise<boolean>;
  /** A page of a ready index; 400 no_index otherwise. */
  query(collection: string, field: string, range: IndexRange, limit: number, now: number): Promise<{ hits: IndexHit[]; more: boolean }>;
  /** The definition of a field's index, ready or not. */
  definitionOf(collection: string, field: string): Promise<IndexDefinition | undefined>;
  /** Resolves once every build in the background is done (or given up). */
  idle(): Promise<void>;
  /** Resolves once the indexes that existed at start are ready (see IndexesOptions.shareStartPass). */
  ready(): Promise<void>;
  close(): Promise<void>;
}
