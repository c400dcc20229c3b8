// Reads a Microsoft security-update document (CVRF, as served by the MSRC API `/cvrf/v3.0/cvrf/<id>`
// with `Accept: application/json`) and finds the cumulative updates it lists for releases in the
// catalog. The parts used:
//   DocumentTracking.Identification.ID.Value   "2026-Aug"  (the Patch Tuesday month)
//   ProductTree.FullProductName[]              { ProductID, Value: "Windows 11 Version 24H2 for x64-based Systems" }
//   Vulnerability[].Remediations[]             { Type: 2 (vendor fix), Description.Value: "5089549" (the KB),
//                                                FixedBuild: "10.0.26100.8457", ProductID: [...] }
// A KB may fix many CVEs: remediations are merged by (release, KB).
import { compileSchema, errorAt, validateOrThrow, type SourceDoc } from '../../lib/source-doc.ts';
import type { Catalog, CatalogRelease } from './catalog.ts';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

interface CvrfRemediation {
  Type?: number | string;
  Description?: { Value?: string };
  FixedBuild?: string;
  ProductID?: string[];
  SubType?: string;
}

interface CvrfDocument {
  DocumentTracking: { Identification: { ID: { Value: string } } };
  ProductTree: { FullProductName?: Array<{ ProductID: string; Value: string }> };
  Vulnerability?: Array<{ CVE?: string; Remediations?: CvrfRemediation[] }>;
}

const cvrfSchema = {
  type: 'object',
  required: ['DocumentTracking', 'ProductTree'],
  properties: {
    DocumentTracking: {
      type: 'object',
      required: ['Identification'],
      properties: {
        Identification: {
          type: 'object',
          required: ['ID'],
          properties: { ID: { type: 'object', required: ['Value'], properties: { Value: { type: 'string' } } } },
        },
      },
    },
    ProductTree: {
      type: 'object',
      properties: {
        FullProductName: {
          type: 'array',
          items: { type: 'object', required: ['ProductID', 'Value'], properties: { ProductID: { type: 'string' }, Value: { type: 'string' } } },
        },
      },
    },
    Vulnerability: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          Remediations: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                Type: { type: ['integer', 'string'] },
                Description: { type: 'object', properties: { Value: { type: 'string' } } },
                FixedBuild: { type: 'string' },
                ProductID: { type: 'array', items: { type: 'string' } },
              },
            },
          },
        },
      },
    },
  },
} as const;

const validateCvrf = compileSchema<CvrfDocument>(cvrfSchema);

export interface ImportedUpdate {
  release: string;
  month: string;
  kb: number;
  ubr: number;
  /** The product names in the document that mapped to this release. */
  products: string[];
}

export interface CvrfImport {
  documentId: string;
  month: string;
  updates: ImportedUpdate[];
  /** Windows products in the document that no catalog release matched (e.g. Windows 10 1809 LTSC). */
  unmatched: string[];
}

/** "2026-Aug" → "2026-08". */
export function cvrfMonth(id: string): string | undefined {
  const m = /^(\d{4})-([A-Za-z]{3})$/.exec(id.trim());
  if (!m) return undefined;
  const i = MONTHS.findIndex((x) => x.toLowerCase() === m[2]!.toLowerCase());
  return i < 0 ? undefined : `${m[1]}-${String(i + 1).padStart(2, '0')}`;
}

/**
 * Which catalog release a CVRF product is: by the build in FixedBuild, and between a client and a
 * server release with the same build (Windows 11 24H2 and Server 2025 are both 26100) by the
 * product's name. Only x64 products count: ARM64 and 32-bit SKUs share the KB.
 */
function releaseFor(catalog: Catalog, productName: string, build: number): CatalogRelease | undefined {
  if (!/x64/i.test(productName) && !/Server/i.test(productName)) return undefined;
  const server = /Windows Server/i.test(productName);
  const family = catalog.releases.filter((r) => (r.family === 'server') === server);
  // The release whose title is in the product's name: "Windows 11 Version 25H2 for x64-based Systems"
  // names "Windows 11 25H2"; "Windows Server 2025 (Server Core installation)" names "Windows Server 2025".
  const name = productName.toLowerCase().replace(' version ', ' ');
  const named = family.find((r) => {
    const title = r.title.toLowerCase();
    return name.startsWith(title) && /^($| \(| for )/.test(name.slice(title.length));
  });
  const byBuild = family.filter((r) => r.build === build);
  // A shared remediation can carry one build for two releases (24H2 and 25H2 share KB and UBR, and
  // a document may list 25H2 under 24H2's FixedBuild): the name wins when it names a release.
  if (named) return named;
  return byBuild.length === 1 ? byBuild[0] : undefined;
}

export function readCvrf(src: SourceDoc, catalog: Catalog): CvrfImport {
  const doc = validateOrThrow(src, validateCvrf);
  const documentId = doc.DocumentTracking.Identification.ID.Value;
  const month = cvrfMonth(documentId);
  if (!month) {
    throw errorAt(src, ['DocumentTracking', 'Identification', 'ID', 'Value'], `document id "${documentId}" is not a Patch Tuesday id; expected YYYY-Mon, e.g. 2026-Aug`);
  }
  const products = new Map((doc.ProductTree.FullProductName ?? []).map((p) => [p.ProductID, p.Value]));
  const found = new Map<string, ImportedUpdate>();
  const unmatched = new Set<string>();
  (doc.Vulnerability ?? []).forEach((v, vi) => {
    (v.Remediations ?? []).forEach((r, ri) => {
      // Type 2 is "Vendor Fix"; older documents spell it out.
      if (!(r.Type === 2 || r.Type === 'Vendor Fix')) return;
      const kbText = r.Description?.Value?.trim() ?? '';
      const build = /^10\.0\.(\d+)\.(\d+)$/.exec(r.FixedBuild?.trim() ?? '');
      if (!/^\d{6,8}$/.test(kbText) || !build) return;
      const kb = Number(kbText);
      const [b, ubr] = [Number(build[1]), Number(build[2])];
      for (const pid of r.ProductID ?? []) {
        const name = products.get(pid);
        if (name === undefined) {
          throw errorAt(src, ['Vulnerability', vi, 'Remediations', ri, 'ProductID'], `product id ${pid} is not in ProductTree.FullProductName`);
        }
        if (!/^Windows/i.test(name)) continue;
        const rel = releaseFor(catalog, name, b);
        if (!rel) {
          unmatched.add(name);
          continue;
        }
        const key = `${rel.name}:${kb}`;
        const prev = found.get(key);
        if (prev) {
          if (prev.ubr !== ubr) {
            throw errorAt(src, ['Vulnerability', vi, 'Remediations', ri, 'FixedBuild'], `KB${kb} is listed with two builds for ${rel.name}: ${b}.${prev.ubr} and ${b}.${ubr}`);
          }
          if (!prev.products.includes(name)) prev.products.push(name);
        } else {
          found.set(key, { release: rel.name, month, kb, ubr, products: [name] });
        }
      }
    });
  });
  // The cumulative update is the remediation with the highest UBR for the release in that month;
  // others (e.g. a servicing-stack-only KB) are not patch levels.
  const best = new Map<string, ImportedUpdate>();
  for (const u of found.values()) {
    const cur = best.get(u.release);
    if (!cur || u.ubr > cur.ubr) best.set(u.release, u);
  }
  return {
    documentId,
    month,
    updates: [...best.values()].sort((a, b) => a.release.localeCompare(b.release)),
    unmatched: [...unmatched].filter((n) => ![...best.values()].some((u) => u.products.includes(n))).sort(),
  };
}

export interface MergeResult {
  added: ImportedUpdate[];
  unchanged: ImportedUpdate[];
  conflicts: Array<{ update: ImportedUpdate; existing: { kb: number; ubr: number } }>;
}

/** Adds imported updates to the catalog in place; an entry for the same month with another KB is a conflict, never overwritten. */
export function mergeImport(catalog: Catalog, imp: CvrfImport): MergeResult {
  const res: MergeResult = { added: [], unchanged: [], conflicts: [] };
  for (const u of imp.updates) {
    const rel = catalog.byName.get(u.release)!;
    const existing = rel.updates.find((x) => x.month === u.month);
    if (existing) {
      if (existing.kb === u.kb && existing.ubr === u.ubr) res.unchanged.push(u);
      else res.conflicts.push({ update: u, existing: { kb: existing.kb, ubr: existing.ubr } });
      continue;
    }
    rel.updates.push({ month: u.month, kb: u.kb, ubr: u.ubr, source: `cvrf ${imp.documentId}` });
    rel.updates.sort((a, b) => a.month.localeCompare(b.month));
    res.added.push(u);
  }
  return res;
}
