// The image manifest: what an image is and how a provider boots it. Written by an image builder
// (images/lab for the Linux lab guest, images/windows for Windows golden images) as manifest.json
// beside the image files; read by providers (to build the VM) and the guest channel (to pin the SSH
// host key). Paths inside are relative to the manifest's folder.

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_SCHEMA = 1;

export interface ImageFile {
  /** Relative to the manifest's folder. */
  path: string;
  bytes: number;
  sha256: string;
}

export type ImageBoot =
  /** Direct kernel boot (the lab guest): QEMU's -kernel/-initrd/-append. */
  | { kind: 'kernel'; kernel: string; initrd: string; append: string }
  /** Boot from the disk through firmware (Windows). */
  | { kind: 'disk'; firmware: 'ovmf' | 'bios'; secureBoot: boolean; tpm: boolean };

export interface ImageManifest {
  schema: typeof MANIFEST_SCHEMA;
  /** Image name, e.g. `lab` or `win11-24h2-26100.8457`. */
  name: string;
  os: {
    family: 'linux' | 'windows';
    /** Catalog release name (`lab`, `win11-24h2`, ...). */
    release: string;
    /** Windows: CurrentBuild (e.g. 26100); lab: kernel release (uname -r). */
    build: string;
    /** Windows: UBR; absent for the lab. */
    ubr?: number;
    /** Windows: cumulative updates installed. */
    kbs?: number[];
    /** Lab: Debian package versions that went in, by package name. */
    packages?: Record<string, string>;
    /** Feature flags a Windows image was built with (HVCI, Secure Boot, test signing). */
    features?: Record<string, boolean>;
  };
  boot: ImageBoot;
  /** The base disk every cell gets a fresh qcow2 (or differencing VHDX) overlay over. */
  disk: { path: string; format: 'qcow2' | 'vhdx'; virtualBytes: number };
  machine: {
    type: 'pc' | 'q35';
    memoryMiB: number;
    cpus: number;
    /** How a guest crash reaches the hypervisor: pvpanic (lab) or Hyper-V's crash MSRs (Windows). */
    crash: 'pvpanic' | 'hv-crash';
    /** Windows: seconds a reboot of this image took when it was built (the reboot wait allows three times that). */
    bootSeconds?: number;
  };
  ssh: {
    user: string;
    /** OpenSSH form: `SHA256:<base64 without padding>`. */
    hostKeyFingerprint: string;
    /** Private key the harness logs in with, relative to the manifest's folder (never logged). */
    clientKey?: string;
  };
  files: ImageFile[];
  /** Hash of everything that went into the image: same inputs, same hash, no rebuild. */
  inputsHash: string;
  builtAt: string;
}
