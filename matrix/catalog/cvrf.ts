// Reads a Microsoft security-update document (CVRF, as served by the MSRC API `/cvrf/v3.0/cvrf/<id>`
// with `Accept: application/json`) and finds the cumulative updates it lists for releases in the
// catalog. The parts used:
//   DocumentTracking.Identification.ID.Value   "2026-Aug"  (the Patch Tuesday month)
//   ProductTree.FullProductName[]              { ProductID, Value: "Windows 11 Version 24H2 for x64-based Systems" }
//   Vulnerability[].Remediations[]             { Type: 2 (vendor fix), Description.Value: "5089549" (the KB),
//                                                FixedBuild: "10.0.26100.8457", ProductID: [...] }
// A KB may fix many CVEs: remediations are merged by (release, KB).
//
// Documents are read as plain JSON (JSON.parse): they run to many MB, and the YAML reader with source
// positions took 1.56 GB for 18 MB (issue #16 row 7). Places are found only when something is wrong:
// by line and column for a document small enough to read again with positions, by JSON path above.
import { readFileSync, statSync } from 'node:fs';
import { InputError, type SourcePlace } from '../../lib/errors.ts';
import { compileSchema, parseSource, pathLabel, placeOf, validateOrThrow, type PathSegment, type SourceDoc } from '../../lib/source-doc.ts';
import { UpdateIndex, type Catalog, type CatalogRelease } from './catalog.ts';

/**
 * The largest CVRF document read, in characters (bytes for a file). Monthly documents are a few MB to
 * a few tens of MB (the 18 MB one included); JSON.parse holds several times its input in
 * memory, so 64 MiB keeps an import well under a GB. A document cannot be read in part: past this it
 * is refused, saying so.
 */
export const CVRF_MAX_CHARS = 64 * 1024 * 1024;

/**
 * Documents up to this size are read a second time, with source positions, to name the line and
 * column of a mistake; larger ones name the JSON path (reading them with positions is what cost GBs).
 */
export const CVRF_POSITIONS_MAX_CHARS = 1024 * 1024;

/** A CVRF document read as plain JSON. */
export interface CvrfSource {
  file: string;
  text: string;
  value: unknown;
}

const fmt = (n: number): string => n.toLocaleString('en-US');

function tooLarge(file: string, size: number, unit: string): InputError {
  return new InputError({ file }, `the document is ${fmt(size)} ${unit}, more than CVRF_MAX_CHARS (${fmt(CVRF_MAX_CHARS)}); expected a monthly CVRF document (it cannot be read in part)`);
}

/** Line and column (1-based) of `offset` in `text`, by one pass over it. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start + 1 };
}

/** Parses a CVRF JSON document; a syntax error is an InputError with line and column. */
export function parseCvrf(file: string, text: string): CvrfSource {
  if (text.length > CVRF_MAX_CHARS) throw tooLarge(file, text.length, 'characters');
  try {
    return { file, text, value: JSON.parse(text) as unknown };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // V8 words most as "... in JSON at position N"; some ("Unexpected token 'x', ... is not valid
    // JSON") carry no position, and then only the file is named. Cut with indexOf, not a regex: the
    // message quotes the untrusted text.
    const marker = / (in|after) JSON at position /.exec(message);
    const digits = marker ? /^\d+/.exec(message.slice(marker.index + marker[0].length)) : null;
    const detail = `JSON syntax error: ${(marker ? message.slice(0, marker.index) : message).slice(0, 200)}`;
    const ended = !digits && message.startsWith('Unexpected end of JSON input');
    if (!digits && !ended) throw new InputError({ file }, detail);
    const { line, column } = lineColumn(text, digits ? Number(digits[0]) : text.length);
    throw new InputError({ file, line, column }, detail);
  }
}

/** Reads a CVRF document file; refuses one larger than CVRF_MAX_CHARS before reading it. */
export function readCvrfFile(file: string): CvrfSource {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError({ file }, code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? String(err)})`);
  }
  if (size > CVRF_MAX_CHARS) throw tooLarge(file, size, 'bytes');
  return parseCvrf(file, readFileSync(file, 'utf8'));
}

const isSourceDoc = (src: SourceDoc | CvrfSource): src is SourceDoc => 'doc' in src;

/** The place of `path`: line and column when positions are at hand or cheap, else the file alone. */
function placer(src: SourceDoc | CvrfSource): (path: readonly PathSegment[]) => SourcePlace | null {
  let positions: SourceDoc | null | undefined = isSourceDoc(src) ? src : undefined;
  return (path) => {
    if (positions === undefined) positions = src.text.length <= CVRF_POSITIONS_MAX_CHARS ? parseSource(src.file, src.text) : null;
    return positions ? placeOf(positions, path) : null;
  };
}

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
  /** Where in the document: the remediation's FixedBuild, e.g. `Vulnerability[0].Remediations[1].FixedBuild`. */
  remediation: string;
}

export interface CvrfImport {
  file: string;
  documentId: string;
  month: string;
  updates: ImportedUpdate[];
  /** Windows products in the document that no catalog release matched (e.g. Windows 10 1809 LTSC). */
  unmatched: string[];
  /** The place of a path in the document (line and column where they can be had). */
  placeOf: (path: readonly PathSegment[]) => SourcePlace;
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

export function readCvrf(src: SourceDoc | CvrfSource, catalog: Catalog): CvrfImport {
  const placed = placer(src);
  const placeAt = (path: readonly PathSegment[]): SourcePlace => placed(path) ?? { file: src.file };
  const fail = (path: PathSegment[], detail: string): InputError => {
    const place = placed(path);
    return place ? new InputError(place, detail) : new InputError({ file: src.file }, `${pathLabel(path)}: ${detail}`);
  };
  let doc: CvrfDocument;
  if (validateCvrf(src.value)) {
    doc = src.value;
  } else {
    const positions = isSourceDoc(src) ? src : src.text.length <= CVRF_POSITIONS_MAX_CHARS ? parseSource(src.file, src.text) : null;
    if (positions) doc = validateOrThrow(positions, validateCvrf);
    else {
      const e = validateCvrf.errors?.[0];
      throw new InputError({ file: src.file }, `${e?.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : 'the document'} ${e?.message ?? 'is not a CVRF document'}`);
    }
  }
  const documentId = doc.DocumentTracking.Identification.ID.Value;
  const month = cvrfMonth(documentId);
  if (!month) {
    throw fail(['DocumentTracking', 'Identification', 'ID', 'Value'], `document id "${documentId}" is not a Patch Tuesday id; expected YYYY-Mon, e.g. 2026-Aug`);
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
          throw fail(['Vulnerability', vi, 'Remediations', ri, 'ProductID'], `product id ${pid} is not in ProductTree.FullProductName`);
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
            throw fail(['Vulnerability', vi, 'Remediations', ri, 'FixedBuild'], `KB${kb} is listed with two builds for ${rel.name}: ${b}.${prev.ubr} and ${b}.${ubr}`);
          }
          if (!prev.products.includes(name)) prev.products.push(name);
        } else {
          found.set(key, { release: rel.name, month, kb, ubr, products: [name], remediation: pathLabel(['Vulnerability', vi, 'Remediations', ri, 'FixedBuild']) });
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
  const matched = new Set([...best.values()].flatMap((u) => u.products));
  return {
    file: src.file,
    documentId,
    month,
    updates: [...best.values()].sort((a, b) => a.release.localeCompare(b.release)),
    unmatched: [...unmatched].filter((n) => !matched.has(n)).sort(),
    placeOf: (path) => placeAt(path),
  };
}

export interface MergeResult {
  added: ImportedUpdate[];
  unchanged: ImportedUpdate[];
  conflicts: Array<{ update: ImportedUpdate; existing: { kb: number; ubr: number } }>;
}

/** `Vulnerability[0].Remediations[1].FixedBuild` back to its path. */
function pathOfLabel(label: string): PathSegment[] {
  const out: PathSegment[] = [];
  for (const part of label.split('.')) {
    const br = part.indexOf('[');
    out.push(br < 0 ? part : part.slice(0, br));
    if (br >= 0) for (const n of part.slice(br + 1, -1).split('][')) out.push(Number(n));
  }
  return out;
}

/**
 * Adds imported updates to the catalog in place; an entry for the same month with another KB is a
 * conflict, never overwritten. A document that contradicts the catalog (a KB or build.UBR it has for
 * another month, a month outside the release's life) is refused whole, before anything is added.
 */
export function mergeImport(catalog: Catalog, imp: CvrfImport): MergeResult {
  const res: MergeResult = { added: [], unchanged: [], conflicts: [] };
  const index = new UpdateIndex(catalog);
  for (const u of imp.updates) {
    const why = index.refusal(catalog.byName.get(u.release)!, u);
    if (why) throw new InputError(imp.placeOf(pathOfLabel(u.remediation)), `${why}; the document is not imported`);
  }
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
