import type { Inventory, RegionInventory, Source } from '#lib/inventory/types.ts';

export interface RegionalRead<T> {
  /** Everything found in the regions that were read. */
  items: (T & { region: string })[];
  /** Regions whose data could not be read, with the failing call: their resources are unknown. */
  unread: { region: string; call: string; reason: string; code?: string }[];
}

/** Gathers one kind of regional resource across the audited regions, keeping which regions failed. */
export function gatherRegional<S, T>(
  inventory: Inventory,
  source: (region: RegionInventory) => Source<S>,
  items: (data: S) => T[],
): RegionalRead<T> {
  const result: RegionalRead<T> = { items: [], unread: [] };
  for (const region of inventory.regions) {
    const s = source(region);
    if (s.state === 'read') {
      for (const item of items(s.data)) result.items.push({ ...item, region: region.region });
    } else {
      result.unread.push({ region: region.region, call: s.call, reason: s.reason, ...(s.code ? { code: s.code } : {}) });
    }
  }
  return result;
}

export function describeUnread(unread: RegionalRead<unknown>['unread']): string {
  return unread.map((u) => `${u.call} in ${u.region}${u.code ? ` (${u.code})` : ''}`).join(', ');
}
