// A software TPM 2.0 per VM (Windows 11 will not install or boot without one): swtpm serves it on
// a unix socket QEMU connects to, and --terminate ends it when QEMU disconnects.
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InfraFailure } from '../../../lib/errors.ts';
import { killGroup, spawnDetached, tail, type SpawnedChild } from './process.ts';

export const SWTPM = 'swtpm';

export function swtpmArgs(stateDir: string, socket: string, logFile: string): string[] {
  return [
    'socket',
    '--tpm2',
    '--tpmstate', `dir=${stateDir}`,
    '--ctrl', `type=unixio,path=${socket}`,
    '--log', `file=${logFile},level=1`,
    '--terminate',
  ];
}

export async function startSwtpm(dir: string, socket: string, watchdog: boolean, timeoutMs: number): Promise<SpawnedChild> {
  await mkdir(dir, { recursive: true });
  const logPath = path.join(dir, 'swtpm.log');
  let tpm: SpawnedChild;
  try {
    tpm = await spawnDetached(SWTPM, swtpmArgs(dir, socket, logPath), { logPath, watchdog });
  } catch (err) {
    throw new InfraFailure(`starting ${SWTPM} failed (Debian: apt-get install swtpm): ${(err as Error).message}`, { cause: err });
  }
  let exited = false;
  void tpm.exited.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) throw new InfraFailure(`${SWTPM} exited at start: ${await tail(logPath, 600)}`);
    if (await stat(socket).then(() => true, () => false)) return tpm;
    await sleep(25);
  }
  killGroup(tpm.identity);
  throw new InfraFailure(`${SWTPM} did not create ${socket} within ${timeoutMs} ms: ${await tail(logPath, 600)}`);
}
