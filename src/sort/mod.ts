/**
 * Sort layer: the loser-tree merger, the in-memory normalized-key sorter, run spilling and the
 * external sort pipeline (read -> sort -> spill -> merge).
 *
 * @module
 */
export { LoserTree } from "./loser_tree.ts";
