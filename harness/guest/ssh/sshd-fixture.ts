// Test-only: a private OpenSSH server on 127.0.0.1 with throwaway keys, so the SSH channel is
// tested against the real thing. Each fixture owns a temp folder, a host key, a client key and one
// sshd process; stop() ends that process and every process it spawned, and removes the folder.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SSHD = '/usr/sbin/sshd';
export const SFTP_SERVER = '/usr/lib/openssh/sftp-server';
export const SSH_KEYGEN = '/usr/bin/ssh-keygen';

/** Why the real-server tests cannot run here, or undefined when they can. */
export function sshdMissingReason(): string | undefined {
  for (const [path, pkg] of [
    [SSHD, 'openssh-server'],
    [SFTP_SERVER, 'openssh-sftp-server'],
    [SSH_KEYGEN, 'openssh-client'],
  ] as const) {
    if (!existsSync(path)) return `${path} is missing (install ${pkg})`;
  }
  if (process.getuid?.() !== 0) return 'sshd needs root here (privilege separation, /run/sshd)';
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Makes an ed25519 key pair; returns the private key path. */
export function makeKey(dir: string, name: string): string {
  const path = join(dir, name);
  execFileSync(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', path]);
  return path;
}

/** The fingerprint exactly as `ssh-keygen -lf` prints it: the reference our pins must match. */
export function keygenFingerprint(keyPath: string): string {
  const out = execFileSync(SSH_KEYGEN, ['-l', '-E', 'sha256', '-f', `${keyPath}.pub`], { encoding: 'utf8' });
  const fp = out.split(/\s+/)[1];
  if (!fp?.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen -lf output: ${out}`);
  return fp;
}

/** All live descendants of `pid`, from /proc (ppid is the 4th field of /proc/<pid>/stat). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

export class SshdFixture {
  readonly dir: string;
  readonly hostKeyPath: string;
  readonly clientKeyPath: string;
  readonly hostFingerprint: string;
  readonly user = 'root';
  private child: ChildProcess | undefined;
  private log = '';

  private constructor(readonly port: number, env: Record<string, string> = {}, sftpStartDir?: string, forceCommand?: string) {
    this.dir = mkdtempSync(join(tmpdir(), 'fleetgate-sshd-'));
    this.hostKeyPath = makeKey(this.dir, 'host_ed25519');
    this.clientKeyPath = makeKey(this.dir, 'client_ed25519');
    this.hostFingerprint = keygenFingerprint(this.hostKeyPath);
    writeFileSync(join(this.dir, 'authorized_keys'), readFileSync(`${this.clientKeyPath}.pub`));
    writeFileSync(
      join(this.dir, 'sshd_config'),
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${this.hostKeyPath}`,
        `AuthorizedKeysFile ${join(this.dir, 'authorized_keys')}`,
        'PidFile none',
        'UsePAM no',
        'StrictModes no',
        'PermitRootLogin prohibit-password',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'AllowTcpForwarding no',
        'X11Forwarding no',
        'PrintMotd no',
        // Not DEBUG: in debug mode sshd copies its debug lines into the sessions' stderr.
        'LogLevel INFO',
        // -d: where relative SFTP paths start (a Windows double maps `C:/...` under its state folder).
        `Subsystem sftp ${SFTP_SERVER}${sftpStartDir ? ` -d ${sftpStartDir}` : ''}`,
        // A shell of the double's own instead of the login shell (a Windows double's cmd.exe): it gets
        // the client's command in SSH_ORIGINAL_COMMAND, the SFTP subsystem's command line included.
        ...(forceCommand ? [`ForceCommand ${forceCommand}`] : []),
        // The login shell (bash) reads ~/.bashrc for commands run over SSH. The host's own dotfiles
        // are not ours to run: they can be slow, and ones that take locks (pyenv rehash) leave
        // those locks stale when a test kills a session. An empty HOME keeps sessions clean.
        // Extra variables for the sessions (a test double's PATH and state folder); values must not
        // hold spaces or quotes (sshd_config's own quoting is not attempted).
        `SetEnv HOME=${this.dir}${Object.entries(env).map(([k, v]) => ` ${k}=${v}`).join('')}`,
        '',
      ].join('\n'),
    );
  }

  /** Keys and config are made now; the server starts with start(). */
  static async create(o: { env?: Record<string, string>; sftpStartDir?: string; forceCommand?: string } = {}): Promise<SshdFixture> {
    for (const [k, v] of Object.entries(o.env ?? {})) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || /[\s"'\\]/.test(v)) throw new Error(`sshd fixture: SetEnv ${k}=${v} cannot be written into sshd_config`);
    }
    if (o.sftpStartDir !== undefined && !/^\/[A-Za-z0-9_./-]+$/.test(o.sftpStartDir)) throw new Error(`sshd fixture: sftp start folder ${o.sftpStartDir} cannot be written into sshd_config`);
    if (o.forceCommand !== undefined && !/^\/[A-Za-z0-9_./-]+$/.test(o.forceCommand)) throw new Error(`sshd fixture: ForceCommand ${o.forceCommand} cannot be written into sshd_config`);
    return new SshdFixture(await freePort(), o.env, o.sftpStartDir, o.forceCommand);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** What sshd wrote to stderr (-e), for failure messages. */
  get output(): string {
    return this.log;
  }

  async start(): Promise<void> {
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege-separation chroot
    const child = spawn(SSHD, ['-D', '-e', '-f', join(this.dir, 'sshd_config')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    // If the test process dies before teardown (killed by a timeout), take sshd with it.
    const killOnExit = () => signalAll([child.pid!, ...descendants(child.pid!)], 'SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sshd did not start listening in 10s:\n${this.log}`)), 10_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        this.log += chunk.toString();
        if (this.log.includes('Server listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`sshd exited with ${code} before listening:\n${this.log}`));
      });
    });
  }

  /** SIGSTOP the listener and every session process: the guest "hangs". */
  pause(): void {
    if (this.child?.pid) signalAll([this.child.pid, ...descendants(this.child.pid)], 'SIGSTOP');
  }

  resume(): void {
    if (this.child?.pid) signalAll([this.child.pid, ...descendants(this.child.pid)], 'SIGCONT');
  }

  /** SIGKILL the per-connection processes only: every session drops, the listener stays (and
   * reaps them). */
  killSessions(): void {
    if (this.child?.pid) signalAll(descendants(this.child.pid), 'SIGKILL');
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      const listener = child.pid;
      signalAll([listener, ...descendants(listener)], 'SIGCONT');
      // Leaves first, so each dead process is reaped by its living parent; killing a whole tree
      // at once leaves orphans to an init that may not reap (zombies in a container).
      for (let round = 0; round < 40; round++) {
        const rest = descendants(listener);
        if (rest.length === 0) break;
        signalAll(rest.filter((pid) => descendants(pid).length === 0), 'SIGKILL');
        await new Promise((r) => setTimeout(r, 50));
      }
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      signalAll([listener, ...descendants(listener)], 'SIGKILL');
      await exited;
    }
    this.child = undefined;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
