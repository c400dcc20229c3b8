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
        required: ['name', 'title', 'family', 'build', 'endOfServicing', 'updates'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$', description: 'a lowercase release name such as win11-24h2' },
          title: { type: 'string' },
          family: { enum: ['client', 'server'] },
          build: { type: 'integer', minimum: 1 },
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
  return { file, releases: data.releases, byName };
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
