// The Windows release and patch-level catalog: every release's build number, end-of-servicing dates and
// Patch Tuesday cumulative updates (month, KB, resulting UBR). The data is windows.json beside this
// file; `fleetgate catalog import` adds months from Microsoft's CVRF documents.
import { writeFileSync, renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileSchema, errorAt, readSource, validateOrThrow } from '../../lib/source-doc.ts';

export const DEFAULT_CATALOG = fileURLToPath(new URL('./windows.json', import.meta.url));

/** The Linux lab guest: a pseudo-release with no patch levels (its level is whatever the image has). */
export const LAB_RELEASE = 'lab';

export interface CatalogUpdate {
  /** Patch Tuesday month, `YYYY-MM`. */
  month: string;
  kb: number;
  ubr: number;
  /** Where an imported entry came from (CVRF document id), absent for the reference table. */
  source?: string;
}

export interface EndOfServicing {
  edition: string;
  date: string;
}

export interface CatalogRelease {
  name: string;
  title: string;
  family: 'client' | 'server';
  build: number;
  /**
   * General availability, YYYY-MM-DD. Not in shared/reference/windows.md: these are the start dates
   * of Microsoft's lifecycle pages for each release.
   */
  generalAvailability: string;
  endOfServicing: EndOfServicing[];
  updates: CatalogUpdate[];
  note?: string;
}

export interface Catalog {
  file: string;
  releases: CatalogRelease[];
  byName: Map<string, CatalogRelease>;
}

/** One patch level: a release at one cumulative update. */
export interface PatchLevel {
  release: string;
  build: number;
  ubr: number;
  kb: number;
  month: string;
}

const month = { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: 'a month as YYYY-MM' };
const date = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'a date as YYYY-MM-DD' };

const catalogSchema = {
  type: 'object',
  required: ['schema', 'releases'],
  additionalProperties: false,
  properties: {
    schema: { const: 1 },
    source: { type: 'string' },
    releases: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'title', 'family', 'build', 'generalAvailability', 'endOfServicing', 'updates'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$', description: 'a lowercase release name such as win11-24h2' },
          title: { type: 'string' },
          family: { enum: ['client', 'server'] },
          build: { type: 'integer', minimum: 1 },
          generalAvailability: date,
          note: { type: 'string' },
          endOfServicing: {
            type: 'array',
            items: {
              type: 'object',
              required: ['edition', 'date'],
              additionalProperties: false,
              properties: { edition: { type: 'string' }, date },
            },
          },
          updates: {
            type: 'array',
            items: {
              type: 'object',
              required: ['month', 'kb', 'ubr'],
              additionalProperties: false,
              properties: {
                month,
                kb: { type: 'integer', minimum: 1 },
                ubr: { type: 'integer', minimum: 0 },
                source: { type: 'string' },
              },
            },
          },
        },
      },
    },
  },
} as const;

const validateCatalog = compileSchema<{ schema: 1; source?: string; releases: CatalogRelease[] }>(catalogSchema);

export function loadCatalog(file: string = process.env.FLEETGATE_CATALOG ?? DEFAULT_CATALOG): Catalog {
  const src = readSource(file);
  const data = validateOrThrow(src, validateCatalog);
  const byName = new Map<string, CatalogRelease>();
  data.releases.forEach((r, i) => {
    if (byName.has(r.name) || r.name === LAB_RELEASE) {
      throw errorAt(src, ['releases', i, 'name'], `release "${r.name}" is listed twice (or shadows the lab pseudo-release)`);
    }
    // Months must be unique and ascending, so "latest" and "latest-N" are positions in the list.
    r.updates.forEach((u, j) => {
      const prev = r.updates[j - 1];
      if (prev && prev.month >= u.month) {
        throw errorAt(src, ['releases', i, 'updates', j, 'month'], `updates of ${r.name} must be in ascending month order with one per month; ${u.month} follows ${prev.month}`);
      }
    });
    byName.set(r.name, r);
  });
  // One KB and one build.UBR are one month, and every month lies within its release's life.
  const index = new UpdateIndex();
  data.releases.forEach((r, i) => {
    r.updates.forEach((u, j) => {
      const why = index.refusal(r, u);
      if (why) throw errorAt(src, ['releases', i, 'updates', j], why);
      index.add(r, u);
    });
  });
  return { file, releases: data.releases, byName };
}

/** The month before `month` (YYYY-MM). */
function monthBefore(month: string): string {
  const [y, m] = [Number(month.slice(0, 4)), Number(month.slice(5, 7))];
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`;
}

/**
 * What the catalog already says about KBs and patch levels, to refuse an entry that contradicts it
 * (issue #16 row 7: a document reusing a KB for another month was added, and `{ kb: N }` then picked
 * one of two entries).
 */
export class UpdateIndex {
  private readonly byKb = new Map<number, { release: string; month: string }>();
  private readonly byLevel = new Map<string, { release: string; month: string; kb: number }>();

  constructor(catalog?: Catalog) {
    for (const r of catalog?.releases ?? []) for (const u of r.updates) this.add(r, u);
  }

  add(r: CatalogRelease, u: { month: string; kb: number; ubr: number }): void {
    if (!this.byKb.has(u.kb)) this.byKb.set(u.kb, { release: r.name, month: u.month });
    const level = patchLevelName({ build: r.build, ubr: u.ubr });
    if (!this.byLevel.has(level)) this.byLevel.set(level, { release: r.name, month: u.month, kb: u.kb });
  }

  /**
   * Why the catalog cannot take `u` for release `r`, or undefined when it can. A KB is one month's
   * update whatever the release (22H2 and 23H2, 24H2 and 25H2, 24H2 and Server 2025 up to 2025-12
   * share KBs, always in one month), and so is a build.UBR. A month must not be before the month
   * before general availability (a release ships with the last Patch Tuesday before it: Server 2025,
   * GA 2024-11-01, has the 2024-10 update in its update history) nor after the last servicing date of
   * any edition, ESU included.
   */
  refusal(r: CatalogRelease, u: { month: string; kb: number; ubr: number }): string | undefined {
    const what = `${r.name} KB${u.kb} for ${u.month}`;
    const kb = this.byKb.get(u.kb);
    if (kb && kb.month !== u.month) return `${what} is in the catalog for ${kb.month} already${kb.release === r.name ? '' : ` (${kb.release})`}; a KB is one month's update`;
    const level = patchLevelName({ build: r.build, ubr: u.ubr });
    const lv = this.byLevel.get(level);
    if (lv && lv.month !== u.month) return `${r.name} ${level} (KB${u.kb}) for ${u.month} is in the catalog for ${lv.month} already${lv.release === r.name ? '' : ` (${lv.release})`}; a patch level is one month's update`;
    if (u.month < monthBefore(r.generalAvailability.slice(0, 7))) return `${what} is before the release's general availability (${r.generalAvailability})`;
    const last = r.endOfServicing.reduce<EndOfServicing | undefined>((a, b) => (!a || b.date > a.date ? b : a), undefined);
    if (last && u.month > last.date.slice(0, 7)) return `${what} is after the release's last servicing date (${last.edition}: ${last.date})`;
    return undefined;
  }
}

export function levelOf(release: CatalogRelease, u: CatalogUpdate): PatchLevel {
  return { release: release.name, build: release.build, ubr: u.ubr, kb: u.kb, month: u.month };
}

/** `build.UBR`, the way Windows and the catalog write a patch level. */
export function patchLevelName(l: { build: number; ubr: number }): string {
  return `${l.build}.${l.ubr}`;
}

/**
 * A warning when no mainstream edition of the release is serviced any more on `today` (ESU alone
 * does not count as serviced: it is paid and not every customer has it).
 */
export function servicingWarning(release: CatalogRelease, today: string): string | undefined {
  const mainstream = release.endOfServicing.filter((e) => e.edition !== 'ESU');
  if (mainstream.length === 0) return undefined;
  const last = mainstream.reduce((a, b) => (a.date >= b.date ? a : b));
  if (last.date >= today) return undefined;
  const esu = release.endOfServicing.find((e) => e.edition === 'ESU' && e.date >= today);
  return `${release.name} (${release.title}) is past its end of servicing (${last.edition}: ${last.date})${esu ? `; security updates continue only under ESU until ${esu.date}` : ''}`;
}

/** Writes the catalog back in a stable, diff-friendly layout: one update per line. */
export function saveCatalog(catalog: Catalog, source?: string): void {
  const releases = catalog.releases.map((r) => {
    const head = { ...r, updates: '__UPDATES__' };
    const json = JSON.stringify(head, null, 2).replace(/^/gm, '    ').trimStart();
    const updates = r.updates.map((u) => `        ${JSON.stringify(u).replace(/,"/g, ', "').replace(/":/g, '": ')}`).join(',\n');
    return `    ${json.replace('"__UPDATES__"', `[\n${updates}\n      ]`)}`;
  });
  const text = `{\n  "schema": 1,\n  "source": ${JSON.stringify(source ?? 'shared/reference/windows.md section 7, plus updates imported with `fleetgate catalog import`')},\n  "releases": [\n${releases.join(',\n')}\n  ]\n}\n`;
  const tmp = `${catalog.file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, catalog.file);
}

/** Today as YYYY-MM-DD (FLEETGATE_TODAY overrides, for reproducible plans and tests). */
export function today(): string {
  return process.env.FLEETGATE_TODAY ?? new Date().toISOString().slice(0, 10);
}
