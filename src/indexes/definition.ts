/**
 * What an index is (DESIGN.md §10): a collection, a dotted path into the stored record, and the
 * type of value it orders. A record whose field is missing or of the other type is simply not in
 * the index, so one definition never makes a write fail. Pure: no storage, no IO.
 */
export { parseFieldPath, parseIndexSpec, parseIndexType } from "../index-spec.ts";
import { type IndexSpec, type IndexType, type IndexValue, indexedValueOf } from "../storage/index-types.ts";

export type { IndexType, IndexValue };
export { indexedValueOf };

/** `field` is a dotted path into the stored record: `lang`, `timestamp`, `value.author`. */
export type IndexDefinition = IndexSpec;

/** (value, uid) order: numbers by size, strings and uids in code-unit order, as listings sort uids. */
export function compareKeys(valueA: IndexValue, uidA: string, valueB: IndexValue, uidB: string): number {
  if (valueA !== valueB) return valueA < valueB ? -1 : 1;
  return uidA === uidB ? 0 : uidA < uidB ? -1 : 1;
}

export const indexName = (definition: Pick<IndexDefinition, "collection" | "field">) => `${definition.collection}/${definition.field}`;
