// Host tools the lab builder shells out to, and a zx runner that can find them. Root's PATH on some
// machines (cron, CI, `sudo -E`) lacks the sbin folders where mkfs.ext4 and depmod live, so the
// runner adds them instead of failing with "command not found".
import { $ } from 'zx';
import { InfraFailure } from '../../lib/errors.ts';

const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

export function pathWithSbin(current: string | undefined): string {
  const parts = (current ?? '/usr/local/bin:/usr/bin:/bin').split(':').filter(Boolean);
  for (const dir of SBIN) if (!parts.includes(dir)) parts.push(dir);
  return parts.join(':');
}

/** zx with the sbin folders on PATH, quiet (callers log what matters), throwing on non-zero exit. */
export const sh = $({ quiet: true, env: { ...process.env, PATH: pathWithSbin(process.env.PATH) } });

/** Tool → Debian package that provides it, for the "what to install" message. */
export const LAB_TOOLS: Record<string, string> = {
  'apt-get': 'apt',
  'apt-cache': 'apt',
  'dpkg-deb': 'dpkg',
  'dpkg-query': 'dpkg',
  cpio: 'cpio',
  gzip: 'gzip',
  'qemu-img': 'qemu-utils',
  'mkfs.ext4': 'e2fsprogs',
  depmod: 'kmod',
  modprobe: 'kmod',
  'ssh-keygen': 'openssh-client',
  ldd: 'libc-bin',
};

/** Throws InfraFailure naming every missing tool and the apt-get line that brings them. */
export async function requireTools(tools: string[] = Object.keys(LAB_TOOLS)): Promise<void> {
  // One shell for all the look-ups: a spawn per tool costs more than the rest of a cache hit.
  const out = await sh({ nothrow: true })`for t in ${tools}; do command -v "$t" >/dev/null || echo "$t"; done`
    .catch(() => undefined);
  const missing = out ? out.stdout.split('\n').filter(Boolean) : tools;
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((t) => LAB_TOOLS[t] ?? t))];
    throw new InfraFailure(
      `the lab image builder needs ${missing.join(', ')}: apt-get install -y ${pkgs.join(' ')}`,
    );
  }
}

/** Last lines of a failed command's output, for an error message. */
export function tail(text: string, lines = 5): string {
  return text.trim().split('\n').slice(-lines).join(' | ');
}
