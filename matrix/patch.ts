// Patch selectors: which patch levels (build.UBR, KB, month) of a release a matrix asks for.
import type { CatalogRelease, PatchLevel } from './catalog/catalog.ts';
import { levelOf } from './catalog/catalog.ts';

export type PatchSelector =
  | { kind: 'latest'; previous: number }
  | { kind: 'since'; month: string }
  | { kind: 'month'; months: string[] }
  | { kind: 'kb'; kbs: number[] }
  | { kind: 'ubr'; levels: string[] };

/** A selector that cannot be met; the caller turns it into an InputError at the selector's place. */
export class PatchSelectionError extends Error {}

export interface Selection {
  levels: PatchLevel[];
  warnings: string[];
}

function nearestUpdates(release: CatalogRelease): string {
  const last = release.updates.slice(-3).map((u) => `${u.month} KB${u.kb} ${release.build}.${u.ubr}`);
  return last.length ? `the newest are ${last.join(', ')}` : 'it has no updates in the catalog';
}

export function selectPatchLevels(release: CatalogRelease, sel: PatchSelector): Selection {
  const ups = release.updates;
  const warnings: string[] = [];
  if (ups.length === 0) throw new PatchSelectionError(`${release.name} has no cumulative updates in the catalog`);
  switch (sel.kind) {
    case 'latest': {
      const want = sel.previous + 1;
      if (want > ups.length) warnings.push(`latest-${sel.previous} asks for ${want} patch levels of ${release.name} but the catalog has ${ups.length}: using all of them`);
      return { levels: ups.slice(-want).map((u) => levelOf(release, u)), warnings };
    }
    case 'since': {
      const found = ups.filter((u) => u.month >= sel.month);
      if (found.length === 0) throw new PatchSelectionError(`no update of ${release.name} since ${sel.month}; ${nearestUpdates(release)}`);
      return { levels: found.map((u) => levelOf(release, u)), warnings };
    }
    case 'month':
      return {
        levels: sel.months.map((m) => {
          const u = ups.find((x) => x.month === m);
          if (!u) throw new PatchSelectionError(`${release.name} has no update for ${m} in the catalog; ${nearestUpdates(release)}`);
          return levelOf(release, u);
        }),
        warnings,
      };
    case 'kb':
      return {
        levels: sel.kbs.map((kb) => {
          const u = ups.find((x) => x.kb === kb);
          if (!u) throw new PatchSelectionError(`KB${kb} is not in the catalog for ${release.name}; ${nearestUpdates(release)}`);
          return levelOf(release, u);
        }),
        warnings,
      };
    case 'ubr':
      return {
        levels: sel.levels.map((text) => {
          const [build, ubr] = text.split('.').map(Number);
          if (build !== release.build) {
            throw new PatchSelectionError(`${text} is not a patch level of ${release.name}, whose build is ${release.build}`);
          }
          const u = ups.find((x) => x.ubr === ubr);
          if (!u) throw new PatchSelectionError(`${text} is not in the catalog for ${release.name}; ${nearestUpdates(release)}`);
          return levelOf(release, u);
        }),
        warnings,
      };
  }
}

/** `latest-3` → { kind: 'latest', previous: 3 }. Only called on strings the schema admitted. */
export function parseLatest(text: string): PatchSelector {
  const m = /^latest(?:-(\d+))?$/.exec(text);
  if (!m) throw new PatchSelectionError(`"${text}" is not latest or latest-N`);
  return { kind: 'latest', previous: m[1] ? Number(m[1]) : 0 };
}
