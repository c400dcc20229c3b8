// TEST DOUBLES AT WORK: `npm run demo:windows`. Windows cells of matrix/windows-demo.yaml through the
// real `fleetgate run` (scheduler, lifecycle, Windows personality, Hyper-V provider over SSH), against
// what stands in here for Windows and Hyper-V:
//   - the Windows guest double (harness/guest/windows/test-doubles/): a loopback OpenSSH server whose
//     powershell is real PowerShell 7 running the real guest and driver scripts, with Windows's own
//     programs and cmdlets replaced by doubles replaying recorded outputs;
//   - two Hyper-V host doubles (harness/providers/hyperv/test-doubles/): the real host scripts in
//     PowerShell 7 over SSH with Hyper-V's cmdlets replaced. hv-a runs cells on the guest double;
//     hv-b refuses to start any VM (not enough memory), so its cells are infra errors retried on hv-a
//     and hv-b is quarantined.
// It writes the inventory (hosts.yaml) and the golden image store (a manifest whose disk, on hv-a's C:
// drive, is the guest double's state) under .cache/windows-demo/, runs fleetgate into
// runs/windows-demo/ (a fresh folder each time: this is a demo, not a run to resume), stops the
// doubles and exits with fleetgate's exit code (1: the matrix holds product failures on purpose).
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MANIFEST_FILE, MANIFEST_SCHEMA } from '../../../images/manifest.ts';
import { imageName, type WindowsImageManifest } from '../../../images/windows/manifest.ts';
import { startWindowsDouble, windows11State, type WindowsDoubleGuest } from '../../guest/windows/test-doubles/guest-double.ts';
import { notEnoughMemory, startHyperVHostDouble, type HyperVHostDouble } from '../../providers/hyperv/test-doubles/host-double.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const DEMO_MATRIX = path.join(ROOT, 'matrix', 'windows-demo.yaml');
const RELEASE = 'win11-24h2';
const BUILD = 26100;
const UBR = 4349;
const KB = 5060842;
const IMAGE_ROOT = 'C:\\fleetgate\\images';

export interface WindowsDemoDoubles {
  hostsFile: string;
  imageStore: string;
  guest: WindowsDoubleGuest;
  hosts: HyperVHostDouble[];
  stop(): Promise<void>;
}

/** Starts the guest double and the two host doubles, and writes hosts.yaml and the image store into `work`. */
export async function startWindowsDemoDoubles(work: string): Promise<WindowsDemoDoubles> {
  mkdirSync(work, { recursive: true });
  const golden = windows11State({ build: BUILD, ubr: UBR });
  const started: Array<{ stop(): Promise<void> }> = [];
  try {
    const guest = await startWindowsDouble(golden);
    started.push(guest);
    const name = imageName(RELEASE, BUILD, UBR);
    const disk = `${IMAGE_ROOT}\\${name}\\disk.vhdx`;
    const a = await startHyperVHostDouble({ guest: { dir: guest.stateDir, address: '127.0.0.1' }, goldenDisks: { [disk]: JSON.stringify(golden) } });
    started.push(a);
    const b = await startHyperVHostDouble({
      goldenDisks: { [disk]: JSON.stringify(golden) },
      refuseStart: notEnoughMemory(),
    });
    started.push(b);

    // The image store: what `fleetgate images` would have written for this golden image.
    const imageStore = path.join(work, 'images');
    const dir = path.join(imageStore, name);
    mkdirSync(dir, { recursive: true });
    copyFileSync(guest.sshd.clientKeyPath, path.join(dir, 'id_guest'));
    chmodSync(path.join(dir, 'id_guest'), 0o600);
    const manifest: WindowsImageManifest = {
      schema: MANIFEST_SCHEMA,
      name,
      os: { family: 'windows', release: RELEASE, build: String(BUILD), ubr: UBR, kbs: [KB], features: { secureBoot: false, testSigning: true, hvci: false } },
      boot: { kind: 'disk', firmware: 'ovmf', secureBoot: false, tpm: false },
      disk: { path: 'disk.vhdx', format: 'vhdx', virtualBytes: 64 * 2 ** 30 },
      machine: { type: 'q35', memoryMiB: 4096, cpus: 2, crash: 'hv-crash', bootSeconds: 5 },
      ssh: { user: guest.sshd.user, hostKeyFingerprint: guest.sshd.hostFingerprint, clientKey: 'id_guest' },
      files: [],
      inputsHash: 'windows-demo (the guest double)',
      builtAt: new Date().toISOString(),
    };
    writeFileSync(path.join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);

    const entry = (hostName: string, h: HyperVHostDouble): string =>
      [
        `  - name: ${hostName}`,
        '    provider: hyperv',
        `    reach: ${h.reach}`,
        '    slots: 1',
        '    memoryMiB: 16384',
        `    images: [${RELEASE}]`,
        '    hyperv:',
        `      hostKey: ${h.hostFingerprint}`,
        `      identity: ${JSON.stringify(h.clientKeyPath)}`,
        `      imageRoot: '${IMAGE_ROOT}'`,
        "      vmRoot: 'C:\\fleetgate\\vms'",
        '      switch: Default Switch',
        // The guest double's sshd is not on port 22: the port a NAT'd host would forward.
        `      guestSshPort: ${guest.sshd.port}`,
      ].join('\n');
    const hostsFile = path.join(work, 'hosts.yaml');
    writeFileSync(hostsFile, `# Written by harness/run/test-doubles/windows-demo.ts: two Hyper-V host doubles.\nhosts:\n${entry('hv-a', a)}\n${entry('hv-b', b)}\n`);
    return {
      hostsFile,
      imageStore,
      guest,
      hosts: [a, b],
      stop: async () => {
        for (const s of started.reverse()) await s.stop().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    throw err;
  }
}

/** `fleetgate run` of the demo matrix against the doubles; its exit code. */
export async function runWindowsDemo(o: { out: string; work: string; extraArgs?: string[] }): Promise<number> {
  rmSync(o.out, { recursive: true, force: true });
  rmSync(o.work, { recursive: true, force: true });
  const doubles = await startWindowsDemoDoubles(o.work);
  try {
    const child = spawn(process.execPath, [path.join(ROOT, 'harness/cli/fleetgate.js'), 'run', DEMO_MATRIX, '--hosts', doubles.hostsFile, '--out', o.out, ...(o.extraArgs ?? [])], {
      cwd: ROOT,
      stdio: 'inherit',
      env: { ...process.env, FLEETGATE_IMAGES: doubles.imageStore },
    });
    const stop = (sig: NodeJS.Signals): void => void child.kill(sig);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const code = await new Promise<number>((resolve) => child.on('exit', (c, sig) => resolve(c ?? (sig ? 130 : 70))));
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    return code;
  } finally {
    await doubles.stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = path.resolve(process.argv[2] ?? path.join(ROOT, 'runs', 'windows-demo'));
  runWindowsDemo({ out, work: path.join(ROOT, '.cache', 'windows-demo') }).then(
    (code) => {
      console.log(`windows demo: fleetgate run exited ${code}; run folder ${path.relative(process.cwd(), out) || out}`);
      process.exit(code);
    },
    (err: unknown) => {
      console.error(`windows demo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(70);
    },
  );
}
