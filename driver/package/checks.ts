// Static checks of a minifilter package, each a named result with an explanation a release engineer
// can act on. Pure: the INF plus the list of files in the package folder.
import type { ParsedInf, InfService } from './inf.ts';

export interface PackageCheck {
  name: CheckName;
  ok: boolean;
  explanation: string;
}

export type CheckName =
  | 'service-declared'
  | 'altitude-in-group-range'
  | 'primitive-decorated-install'
  | 'primitive-no-undecorated-install'
  | 'primitive-no-manufacturer'
  | 'primitive-default-uninstall'
  | 'catalog-present'
  | 'service-binary-present'
  | 'service-binary-copied'
  | 'depends-on-fltmgr'
  | 'class-matches-group';

/**
 * Load order groups and their altitude ranges (inclusive), windows.md §3. Others (Undelete, Replication,
 * HSM, ...) exist but are not listed there: add them only with a source.
 */
export const ALTITUDE_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  'FSFilter Top': [400000, 409999],
  'FSFilter Activity Monitor': [360000, 389999],
  'FSFilter Anti-Virus': [320000, 329999],
  'FSFilter Content Screener': [260000, 269999],
  'FSFilter Encryption': [140000, 149999],
  'FSFilter Bottom': [40000, 49999],
};

/**
 * Setup class and class GUID per load order group. Source: Microsoft Learn, "File System Filter Driver
 * Classes and Class GUIDs" (learn.microsoft.com/windows-hardware/drivers/ifs/file-system-filter-driver-
 * classes-and-class-guids). FSFilter Top and Bottom have no setup class there. Encryption's GUID was not in
 * the excerpt we read, so that group is not checked.
 */
export const GROUP_CLASSES: Readonly<Record<string, { class: string; guid: string }>> = {
  'FSFilter Activity Monitor': { class: 'ActivityMonitor', guid: '{b86dff51-a31e-4bac-b3cf-e8cfe75c9fc2}' },
  'FSFilter Anti-Virus': { class: 'AntiVirus', guid: '{b1d1a169-c54f-4379-81db-bee7d88d7454}' },
  'FSFilter Content Screener': { class: 'ContentScreener', guid: '{3e3f0674-c83c-4558-bb26-9820e1eba5c5}' },
};

export function groupRange(group: string): readonly [number, number] | null {
  const key = Object.keys(ALTITUDE_RANGES).find((k) => k.toLowerCase() === group.trim().toLowerCase());
  return key ? ALTITUDE_RANGES[key]! : null;
}

/** The service the checks are about: the first AddService of the amd64 install section's `.Services`. */
export function mainService(inf: ParsedInf): InfService | null {
  if (inf.installSection) {
    const svcSection = `${inf.installSection}.Services`.toLowerCase();
    const s = inf.services.find((sv) => {
      const sec = inf.sections.get(svcSection);
      return sec?.entries.some((e) => e.line === sv.line);
    });
    if (s) return s;
  }
  return inf.services[0] ?? null;
}

export interface FolderFile {
  /** Path relative to the package folder, `/`-separated. */
  path: string;
  placeholder: boolean;
}

export function checkPackage(inf: ParsedInf, files: readonly FolderFile[]): PackageCheck[] {
  const checks: PackageCheck[] = [];
  const add = (name: CheckName, ok: boolean, explanation: string): void => {
    checks.push({ name, ok, explanation });
  };
  const findFile = (name: string): FolderFile | undefined => files.find((f) => f.path.toLowerCase() === name.toLowerCase());
  const svc = mainService(inf);

  add('service-declared', svc !== null, svc ? `service ${svc.name} from [${svc.serviceSection}] (line ${svc.line})` : 'no AddService in any DefaultInstall*.Services section: nothing would be installed');

  // Altitude against the group's range (windows.md §3).
  if (!svc) {
    add('altitude-in-group-range', false, 'no service, so no load order group or altitude to check');
  } else {
    const group = svc.loadOrderGroup;
    const range = group ? groupRange(group) : null;
    const withAltitude = svc.instances.filter((i) => i.altitude !== null);
    if (!group) add('altitude-in-group-range', false, `[${svc.serviceSection}] has no LoadOrderGroup`);
    else if (!range) add('altitude-in-group-range', false, `load order group "${group}" has no altitude range in our table (known: ${Object.keys(ALTITUDE_RANGES).join(', ')}; windows.md §3)`);
    else if (!withAltitude.length) add('altitude-in-group-range', false, `no instance with an Altitude under ${svc.instancesKey ?? 'Parameters\\Instances'} in the AddReg sections of [${svc.serviceSection}]`);
    else {
      const bad = withAltitude.filter((i) => {
        const a = Number(i.altitude);
        return !Number.isInteger(a) || a < range[0] || a > range[1];
      });
      const list = withAltitude.map((i) => `${i.name}=${i.altitude}`).join(', ');
      add(
        'altitude-in-group-range',
        bad.length === 0,
        bad.length === 0
          ? `${list} inside "${group}" ${range[0]}-${range[1]}`
          : `${bad.map((i) => `${i.name}=${i.altitude} (line ${i.line})`).join(', ')} outside "${group}" ${range[0]}-${range[1]} (minifilter altitudes are whole numbers in the group's range)`,
      );
    }
  }

  // Windows 10 1903+ primitive driver rules (windows.md §3).
  add(
    'primitive-decorated-install',
    inf.installSection !== null,
    inf.installSection ? `[${inf.installSection}] present` : `no [DefaultInstall.NTamd64]: Windows 10 1903+ requires decorated DefaultInstall sections (found: ${inf.defaultInstallSections.join(', ') || 'none'})`,
  );
  const undecorated = inf.defaultInstallSections.filter((n) => n.toLowerCase() === 'defaultinstall');
  add('primitive-no-undecorated-install', undecorated.length === 0, undecorated.length ? '[DefaultInstall] without a platform decoration is not allowed for primitive drivers on Windows 10 1903+' : 'no undecorated [DefaultInstall]');
  add('primitive-no-manufacturer', !inf.hasManufacturer, inf.hasManufacturer ? '[Manufacturer] makes this a device (PnP) INF, not a primitive driver INF' : 'no [Manufacturer]');
  const badUninstall = inf.defaultUninstall.filter((u) => !u.legacyUninstall);
  add(
    'primitive-default-uninstall',
    badUninstall.length === 0,
    badUninstall.length
      ? `${badUninstall.map((u) => `[${u.name}] (line ${u.line})`).join(', ')} without LegacyUninstall=1: not allowed for primitive drivers`
      : inf.defaultUninstall.length
        ? `${inf.defaultUninstall.map((u) => `[${u.name}]`).join(', ')} with LegacyUninstall=1`
        : 'no [DefaultUninstall]',
  );

  // Files the INF names.
  const cat = inf.version.catalogFile;
  const catFile = cat ? findFile(cat) : undefined;
  add(
    'catalog-present',
    catFile !== undefined,
    !cat ? '[Version] has no CatalogFile' : catFile ? `${catFile.path} present${catFile.placeholder ? ' (a PLACEHOLDER, not a signed catalog)' : ''}` : `CatalogFile=${cat} is not in the package folder`,
  );
  const bin = svc?.binaryName ?? null;
  const binFile = bin ? findFile(bin) : undefined;
  add(
    'service-binary-present',
    binFile !== undefined,
    !svc ? 'no service' : !bin ? `[${svc.serviceSection}] has no ServiceBinary` : binFile ? `${binFile.path} present${binFile.placeholder ? ' (a PLACEHOLDER, not a driver binary)' : ''}` : `ServiceBinary ${svc.serviceBinary} names ${bin}, which is not in the package folder`,
  );
  const copied = bin ? inf.copyFiles.some((c) => c.installSection.toLowerCase() === (inf.installSection ?? '').toLowerCase() && c.files.some((f) => f.name.toLowerCase() === bin.toLowerCase())) : false;
  add('service-binary-copied', copied, copied ? `${bin} is copied by [${inf.installSection}] CopyFiles` : `${bin ?? 'the service binary'} is not in the CopyFiles of [${inf.installSection ?? 'DefaultInstall.NTamd64'}]: install would register a service whose image is missing`);

  const deps = svc?.dependencies ?? [];
  const fltmgr = deps.some((d) => d.toLowerCase() === 'fltmgr');
  add('depends-on-fltmgr', fltmgr, fltmgr ? 'Dependencies includes FltMgr' : `Dependencies = ${deps.join(',') || '(none)'}: a minifilter must depend on FltMgr (windows.md §3)`);

  if (svc?.loadOrderGroup) {
    const key = Object.keys(GROUP_CLASSES).find((k) => k.toLowerCase() === svc.loadOrderGroup!.toLowerCase());
    if (key) {
      const want = GROUP_CLASSES[key]!;
      const ok = (inf.version.class ?? '').toLowerCase() === want.class.toLowerCase() && (inf.version.classGuid === null || inf.version.classGuid.toLowerCase() === want.guid);
      add('class-matches-group', ok, ok ? `Class=${want.class} matches "${key}"` : `"${key}" wants Class=${want.class} ClassGuid=${want.guid}, INF has Class=${inf.version.class ?? '(none)'} ClassGuid=${inf.version.classGuid ?? '(none)'}`);
    }
  }
  return checks;
}
