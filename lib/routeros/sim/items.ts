import { parseId, type MenuSpec, type RouterReader } from './menu-types.js';
import { traps, type Trap } from './traps.js';

export type ResolvedItems = { ok: true; ids: number[] } | { ok: false; trap: Trap };

/** `*1,*2` (or names, in menus with a name key) → ids of existing entries, in the order given. */
export function resolveItems(spec: MenuSpec, router: RouterReader, list: string): ResolvedItems {
  const ids: number[] = [];
  // a Set beside the list: a removal may name tens of thousands of ids
  const seen = new Set<number>();
  const add = (id: number): void => {
    if (seen.has(id)) return;
    seen.add(id);
    ids.push(id);
  };
  const entries = router.entries(spec.path);
  for (const ref of list.split(',')) {
    const id = parseId(ref);
    if (id === null) {
      const named = spec.nameKey === undefined ? undefined : entries.find((e) => e.props.get(spec.nameKey ?? '') === ref);
      if (named === undefined) return { ok: false, trap: ref.startsWith('*') ? traps.invalidItemNumber : traps.noSuchItem };
      add(named.id);
      continue;
    }
    if (router.find(spec.path, id) === undefined) return { ok: false, trap: traps.noSuchItem };
    add(id);
  }
  return { ok: true, ids };
}
