// `fleetgate catalog [--json] [--release NAME]`: Windows releases and their patch levels.
// `fleetgate catalog import FILE [--dry-run]`: adds a Patch Tuesday from an MSRC CVRF JSON document.
import type { Command } from 'commander';
import { UsageError } from '../../../lib/errors.ts';
import { loadCatalog, saveCatalog, servicingWarning, today, type CatalogRelease } from '../../../matrix/catalog/catalog.ts';
import { mergeImport, readCvrf, readCvrfFile } from '../../../matrix/catalog/cvrf.ts';

function releaseJson(r: CatalogRelease, now: string) {
  return {
    name: r.name,
    title: r.title,
    family: r.family,
    build: r.build,
    endOfServicing: r.endOfServicing,
    serviced: servicingWarning(r, now) === undefined,
    latest: r.updates.at(-1) ?? null,
    patchLevels: r.updates.map((u) => ({ month: u.month, kb: u.kb, ubr: u.ubr, patchLevel: `${r.build}.${u.ubr}`, ...(u.source ? { source: u.source } : {}) })),
    ...(r.note ? { note: r.note } : {}),
  };
}

export function registerCatalog(program: Command): void {
  const catalog = program.command('catalog').description('Windows releases and patch levels (the catalog), and importing new Patch Tuesdays');

  catalog
    .command('list', { isDefault: true })
    .description('list releases and patch levels')
    .option('--json', 'machine-readable output')
    .option('--release <name>', 'only this release, with every patch level')
    .action((opts: { json?: boolean; release?: string }) => {
      const cat = loadCatalog();
      const now = today();
      let releases = cat.releases;
      if (opts.release !== undefined) {
        const r = cat.byName.get(opts.release);
        if (!r) throw new UsageError(`--release ${opts.release}: not in the catalog (${cat.releases.map((x) => x.name).join(', ')})`);
        releases = [r];
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ catalog: cat.file, today: now, releases: releases.map((r) => releaseJson(r, now)) }, null, 2)}\n`);
        return;
      }
      const lines: string[] = [];
      for (const r of releases) {
        const eos = servicingWarning(r, now);
        const latest = r.updates.at(-1);
        lines.push(
          `${r.name.padEnd(12)} ${r.title.padEnd(20)} build ${String(r.build).padEnd(6)} ${String(r.updates.length).padStart(3)} patch levels` +
            `, latest ${latest ? `${latest.month} KB${latest.kb} ${r.build}.${latest.ubr}` : '-'}` +
            `${eos ? '  [past end of servicing]' : ''}`,
        );
        if (opts.release !== undefined) {
          for (const u of r.updates) lines.push(`  ${u.month}  KB${u.kb}  ${r.build}.${u.ubr}${u.source ? `  (${u.source})` : ''}`);
          for (const e of r.endOfServicing) lines.push(`  end of servicing ${e.edition}: ${e.date}`);
        }
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  catalog
    .command('import')
    .description('add the cumulative updates of a Microsoft security-update (CVRF JSON) document to the catalog')
    .argument('<file>', 'CVRF document, e.g. saved from the MSRC API /cvrf/v3.0/cvrf/2026-Sep with Accept: application/json')
    .option('--dry-run', 'show what would be added without writing the catalog')
    .option('--json', 'machine-readable output')
    .action((file: string, opts: { dryRun?: boolean; json?: boolean }) => {
      const cat = loadCatalog();
      const imp = readCvrf(readCvrfFile(file), cat);
      const res = mergeImport(cat, imp);
      if (!opts.dryRun && res.added.length > 0) saveCatalog(cat);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ document: imp.documentId, month: imp.month, dryRun: !!opts.dryRun, catalog: cat.file, ...res, unmatched: imp.unmatched }, null, 2)}\n`);
      } else {
        const out = [`${imp.documentId} (${imp.month}): ${imp.updates.length} cumulative updates for catalog releases`];
        for (const u of res.added) out.push(`  ${opts.dryRun ? 'would add' : 'added'}  ${u.release.padEnd(12)} KB${u.kb}  ${u.ubr}`);
        for (const u of res.unchanged) out.push(`  already  ${u.release.padEnd(12)} KB${u.kb}  ${u.ubr}`);
        for (const c of res.conflicts) out.push(`  CONFLICT ${c.update.release.padEnd(12)} KB${c.update.kb} .${c.update.ubr} but the catalog has KB${c.existing.kb} .${c.existing.ubr} for ${imp.month}: left as it is`);
        if (imp.unmatched.length) out.push(`  not in the catalog: ${imp.unmatched.join('; ')}`);
        process.stdout.write(`${out.join('\n')}\n`);
      }
      if (res.conflicts.length > 0) process.exitCode = 1;
    });
}
