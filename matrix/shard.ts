// `--shard i/n`: a deterministic split of a plan's cells over n CI runners. Cells are ordered by id
// (stable across machines) and dealt round-robin, so every cell lands in exactly one shard and the
// shards differ in size by at most one.
import { UsageError } from '../lib/errors.ts';

export interface Shard {
  index: number;
  total: number;
}

export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new UsageError(`--shard ${text}: expected i/n with whole numbers, e.g. 1/4`);
  const index = Number(m[1]);
  const total = Number(m[2]);
  if (total < 1) throw new UsageError(`--shard ${text}: n must be at least 1`);
  if (index < 1 || index > total) throw new UsageError(`--shard ${text}: i must be between 1 and ${total}`);
  return { index, total };
}

export function selectShard<T extends { id: string }>(cells: readonly T[], shard: Shard): T[] {
  if (shard.total === 1) return [...cells];
  const order = [...cells].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const mine = new Set(order.filter((_, i) => i % shard.total === shard.index - 1).map((c) => c.id));
  // Keep the plan's own order within the shard.
  return cells.filter((c) => mine.has(c.id));
}
