import { assert } from "../base/mod.ts";

/**
 * A tournament tree of losers over `inputCount` sorted inputs (Knuth 5.4.1), the k-way merge
 * selector used by the sort merge and the count merge.
 *
 * Inputs are indices `0..inputCount-1`. The tree never looks at records itself: it asks
 * `isLess(i, j)` whether input `i`'s current head sorts before input `j`'s. Exhausted inputs
 * (marked through {@linkcode LoserTree.init}'s callback or {@linkcode LoserTree.replaceTop})
 * lose against everything. Ties break by input index, lower first, so a merge is stable.
 *
 * ```
 *            winner (nodes[0])
 *                 |
 *              nodes[1]        internal nodes hold the LOSER of their match
 *             /        \
 *        nodes[2]    nodes[3]
 *        /    \      /     \
 *      in0   in1   in2    in3    leaf of input i sits at position k + i
 * ```
 * After the winner advances, only its leaf-to-root path is replayed: log2(k) comparisons.
 *
 * @example Usage
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { LoserTree } from "./loser_tree.ts";
 * const runs = [[1, 4], [2, 3], [1]];
 * const heads = [0, 0, 0];
 * const tree = new LoserTree(3, (i, j) => runs[i]![heads[i]!]! < runs[j]![heads[j]!]!);
 * tree.init((i) => heads[i]! >= runs[i]!.length);
 * const merged: number[] = [];
 * while (tree.winner !== -1) {
 *   const w = tree.winner;
 *   merged.push(runs[w]![heads[w]!]!);
 *   heads[w]! += 1;
 *   tree.replaceTop(heads[w]! >= runs[w]!.length);
 * }
 * deepStrictEqual(merged, [1, 1, 2, 3, 4]);
 * ```
 */
export class LoserTree {
  readonly #inputCount: number;
  readonly #isLess: (i: number, j: number) => boolean;
  /** nodes[0] = overall winner; nodes[1..k-1] = losers of the internal matches. */
  readonly #nodes: Int32Array;
  readonly #exhausted: Uint8Array;
  #liveCount = 0;

  /**
   * Creates a tree over `inputCount` inputs; call `init()` before use.
   *
   * @param inputCount How many inputs (at least 1).
   * @param isLess Whether input `i`'s current head sorts strictly before input `j`'s; only
   *   called for inputs that are not exhausted.
   */
  constructor(inputCount: number, isLess: (i: number, j: number) => boolean) {
    assert(Number.isSafeInteger(inputCount) && inputCount >= 1, `inputCount ${inputCount} < 1`);
    this.#inputCount = inputCount;
    this.#isLess = isLess;
    this.#nodes = new Int32Array(inputCount).fill(-1);
    this.#exhausted = new Uint8Array(inputCount);
  }

  /** How many inputs the tree merges. */
  get inputCount(): number {
    return this.#inputCount;
  }

  /** How many inputs are not exhausted. */
  get liveCount(): number {
    return this.#liveCount;
  }

  /**
   * Builds the tree from the current heads of all inputs.
   *
   * @param isExhausted Optional: which inputs are empty from the start (default none).
   */
  init(isExhausted?: (input: number) => boolean): void {
    const k = this.#inputCount;
    let live = 0;
    for (let i = 0; i < k; i += 1) {
      const empty = isExhausted !== undefined && isExhausted(i);
      this.#exhausted[i] = empty ? 1 : 0;
      if (!empty) live += 1;
    }
    this.#liveCount = live;
    if (k === 1) {
      this.#nodes[0] = this.#exhausted[0] === 1 ? -1 : 0;
      return;
    }
    // Play the tournament bottom-up: winners[] holds the winner of each internal node's subtree.
    const winners = new Int32Array(2 * k);
    for (let i = 0; i < k; i += 1) winners[k + i] = i;
    for (let node = k - 1; node >= 1; node -= 1) {
      const a = winners[2 * node]!;
      const b = winners[2 * node + 1]!;
      if (this.#beats(a, b)) {
        winners[node] = a;
        this.#nodes[node] = b;
      } else {
        winners[node] = b;
        this.#nodes[node] = a;
      }
    }
    const top = winners[1]!;
    this.#nodes[0] = this.#exhausted[top] === 1 ? -1 : top;
  }

  /** The input whose head is smallest; -1 when all inputs are exhausted. */
  get winner(): number {
    return this.#nodes[0]!;
  }

  /**
   * Replays the winner's path after its input advanced to a new head (or ran dry).
   *
   * @param exhausted Whether the winner's input has no more records.
   */
  replaceTop(exhausted: boolean): void {
    const nodes = this.#nodes;
    let candidate = nodes[0]!;
    assert(candidate >= 0, "replaceTop() called with no winner");
    if (exhausted) {
      this.#exhausted[candidate] = 1;
      this.#liveCount -= 1;
    }
    const k = this.#inputCount;
    let node = (k + candidate) >> 1;
    while (node >= 1) {
      const opponent = nodes[node]!;
      if (this.#beats(opponent, candidate)) {
        nodes[node] = candidate;
        candidate = opponent;
      }
      node >>= 1;
    }
    nodes[0] = this.#exhausted[candidate] === 1 ? -1 : candidate;
  }

  /** Whether input `a` wins against input `b`: live before exhausted, then isLess, then index. */
  #beats(a: number, b: number): boolean {
    const exhausted = this.#exhausted;
    const aDry = exhausted[a] === 1;
    const bDry = exhausted[b] === 1;
    if (aDry || bDry) {
      if (aDry && bDry) return a < b;
      return bDry;
    }
    // One comparison: the lower index wins unless the higher one is strictly less.
    return a < b ? !this.#isLess(b, a) : this.#isLess(a, b);
  }
}
