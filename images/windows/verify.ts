// `fleetgate images verify`: does the guest an image boots into match what its manifest says? The
// comparison is pure (the booting is the CLI's, harness/cli/commands/images.ts): the identity comes
// from harness/guest/windows WindowsGuest.identity(), given here as the fields it compares, so the
// images room does not import the harness.
import type { WindowsImageManifest } from './manifest.ts';

/** The part of WindowsGuest.identity() an image is checked against. */
export interface GuestIdentityFacts {
  build: number;
  ubr: number;
  secureBoot: boolean | null;
  testSigning: boolean | null;
  hvci: boolean | null;
  crashDump: { kind: string; autoReboot: boolean | null; overwrite: boolean | null };
}

export interface IdentityMismatch {
  field: string;
  manifest: string;
  guest: string;
}

/** Every disagreement between the manifest and the running guest; [] when the image is what it says. */
export function compareIdentity(m: WindowsImageManifest, id: GuestIdentityFacts): IdentityMismatch[] {
  const out: IdentityMismatch[] = [];
  const check = (field: string, want: unknown, got: unknown) => {
    if (want !== undefined && want !== got) out.push({ field, manifest: String(want), guest: got === null ? 'unknown' : String(got) });
  };
  check('os.build', m.os.build, String(id.build));
  check('os.ubr', m.os.ubr, id.ubr);
  check('boot.secureBoot', m.boot.secureBoot, id.secureBoot);
  const f = m.os.features ?? {};
  check('os.features.testSigning', f.testSigning, id.testSigning);
  check('os.features.hvci', f.hvci, id.hvci);
  // What the images are provisioned with (provision/set_crash_dump.ps1): a kernel dump, reboot, overwrite.
  check('crash dump kind', 'kernel', id.crashDump.kind);
  check('crash dump AutoReboot', true, id.crashDump.autoReboot);
  check('crash dump Overwrite', true, id.crashDump.overwrite);
  return out;
}
