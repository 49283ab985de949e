import { BytesOrder, FixedKeyOrder, type RecordOrder } from "./record_order.ts";
import { parseSortOrder, type SortOrderSpec } from "./sort_order.ts";

/**
 * A plain-data description of an ordering, so a Worker can rebuild the same order
 * (`postMessage` cannot carry the order object itself).
 */
export type OrderDescriptor =
  | { kind: "bytes"; reverse: boolean }
  | { kind: "fixed"; keyOffset: number; keyBytes: number }
  | { kind: "spec"; spec: SortOrderSpec };

/**
 * Builds the order a descriptor describes. Plain byte orders (no keys, no -n/-f/-b) use the
 * core's own {@linkcode BytesOrder}.
 *
 * @param descriptor The description.
 * @returns The order.
 * @throws {UsageError} On a bad KEYDEF in a spec.
 */
export function orderFromDescriptor(descriptor: OrderDescriptor): RecordOrder {
  switch (descriptor.kind) {
    case "bytes":
      return new BytesOrder(descriptor.reverse);
    case "fixed":
      return new FixedKeyOrder(descriptor.keyOffset, descriptor.keyBytes);
    case "spec": {
      const order = parseSortOrder(descriptor.spec);
      return order.isPlainBytes ? new BytesOrder(order.reverse) : order;
    }
  }
}
