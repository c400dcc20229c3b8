// The SSH guest channel against a real OpenSSH server on 127.0.0.1 (see sshd-fixture.ts).
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { InfraFailure, InputError } from '../../../lib/errors.ts';
import type { ImageManifest } from '../../../images/manifest.ts';
import type { GuestChannelEvents, TransferProgress } from '../channel.ts';
import {
  ChecksumMismatch,
  GuestConnectionLost,
  HostKeyMismatch,
  SshAuthFailed,
  SshConnectFailed,
  connectSsh,
  fromManifest,
  quotePosix,
  sha256Fingerprint,
  type RemoteSha256,
  type SshConnectOptions,
  type SshGuestChannel,
} from './client.ts';
import { SshdFixture, freePort, keygenFingerprint, makeKey, sshdMissingReason } from './sshd-fixture.ts';

const missing = sshdMissingReason();
if (missing) {
  t.skip(`SSH channel against a real OpenSSH server: skipped, ${missing}`, { skip: missing }, () => {});
} else {
  await realServerTests();
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Waits for one channel event, failing the test instead of hanging when it never comes. */
async function nextEvent<E extends keyof GuestChannelEvents>(
  channel: SshGuestChannel,
  event: E,
  timeoutMs: number,
): Promise<GuestChannelEvents[E][0]> {
  const [payload] = (await once(channel, event, { signal: AbortSignal.timeout(timeoutMs) })) as GuestChannelEvents[E];
  return payload;
}

async function realServerTests(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'fleetgate-ssh-test-'));
  const sshd = await SshdFixture.create();
  t.teardown(async () => {
    await sshd.dispose();
    rmSync(work, { recursive: true, force: true });
  });
  await sshd.start();

  const options = (extra: Partial<SshConnectOptions> = {}): SshConnectOptions => ({
    host: '127.0.0.1',
    port: sshd.port,
    username: sshd.user,
    privateKeyPath: sshd.clientKeyPath,
    hostKeyFingerprint: sshd.hostFingerprint,
    hostKeySource: 'the test fixture',
    retry: { deadlineMs: 10_000, initialDelayMs: 100 },
    ...extra,
  });

  const channel = await connectSsh(options());
  t.teardown(() => channel.close());

  t.test('our fingerprint of the offered host key is what ssh-keygen -lf prints', async (t) => {
    const blob = Buffer.from(readFileSync(`${sshd.hostKeyPath}.pub`, 'utf8').split(' ')[1]!, 'base64');
    t.equal(sha256Fingerprint(blob), sshd.hostFingerprint);
    t.equal(channel.attempts, 1, 'a running server is reached on the first attempt');
  });

  t.test('exec reports exit codes and keeps stdout and stderr apart', async (t) => {
    const ok = await channel.exec('echo out; echo err >&2', { timeoutMs: 10_000 });
    t.equal(ok.exitCode, 0);
    t.equal(ok.stdout, 'out\n');
    t.equal(ok.stderr, 'err\n');
    t.equal(ok.timedOut, false);
    t.equal(ok.truncated, false);
    const failed = await channel.exec('exit 3', { timeoutMs: 10_000 });
    t.equal(failed.exitCode, 3);
    const killed = await channel.exec('kill -TERM $$', { timeoutMs: 10_000 });
    t.equal(killed.exitCode, null, 'no exit status when a signal ended the command');
    t.equal(killed.signal, 'SIGTERM');
  });

  t.test('exec streams output while the command runs and feeds stdin', async (t) => {
    // The command only finishes after we answer its first line, so the answer can only have been
    // sent if that line was streamed to us before the end.
    const stdin = new PassThrough();
    const seen: string[] = [];
    const result = await channel.exec('echo ready; read line; echo "got:$line"; echo warn >&2', {
      timeoutMs: 10_000,
      stdin,
      onStdout: (chunk) => {
        seen.push(chunk.toString());
        if (chunk.toString().includes('ready')) stdin.end('hello\n');
      },
      onStderr: (chunk) => seen.push(`stderr:${chunk.toString()}`),
    });
    t.equal(result.exitCode, 0);
    t.equal(result.stdout, 'ready\ngot:hello\n');
    t.ok(seen.join('').includes('stderr:warn'), 'stderr chunks reach onStderr');
  });

  t.test('exec keeps only the tail of a large output, says so, and still streams all of it', async (t) => {
    let streamed = 0;
    const r = await channel.exec("head -c 300000 /dev/zero | tr '\\0' x; printf END", {
      timeoutMs: 10_000,
      maxBufferBytes: 1000,
      onStdout: (chunk) => (streamed += chunk.length),
    });
    t.equal(r.exitCode, 0);
    t.equal(streamed, 300_003);
    t.equal(r.stdout.length, 1000);
    t.ok(r.stdout.endsWith('xxEND'), 'the end of the output is kept');
    t.equal(r.stdoutDroppedBytes, 299_003);
    t.equal(r.truncated, true);
  });

  t.test('untrusted text passes through quotePosix unchanged and unexecuted', async (t) => {
    const nasty = `it's $(touch ${work}/pwned) \`id\` "q" ; rm -rf / \n*`;
    const r = await channel.exec(`printf %s ${quotePosix(nasty)}`, { timeoutMs: 10_000 });
    t.equal(r.stdout, nasty);
    t.notOk(existsSync(join(work, 'pwned')), 'the command substitution did not run');
  });

  t.test('a timeout ends the command and is reported, not thrown', async (t) => {
    const marker = join(work, 'timeout-marker');
    const before = sshd.output.length;
    const r = await channel.exec(`sleep 2 && touch ${quotePosix(marker)}`, { timeoutMs: 800 });
    t.equal(r.timedOut, true);
    t.equal(r.exitCode, null);
    t.ok(r.durationMs < 2000, `returned at the timeout (${r.durationMs}ms), not when the command ended`);
    await sleep(2500);
    // OpenSSH kills the process group on our KILL request, except after a root login (the
    // fixture's): it turns privilege separation off then and refuses, saying so in its log. Either
    // outcome proves the request was sent; silence plus a surviving command means it was not.
    const refused = sshd.output.slice(before).includes('session signalling requires privilege separation');
    t.ok(refused || !existsSync(marker), 'the KILL request was sent (and obeyed or explicitly refused)');
    if (refused) t.comment('sshd refused the signal for this root session; the command ran on');
    const after = await channel.exec('echo still-usable', { timeoutMs: 10_000 });
    t.equal(after.stdout, 'still-usable\n', 'the connection survives a timed-out command');
  });

  t.test('an abort signal ends the command like a timeout', async (t) => {
    const r = await channel.exec('sleep 5', { timeoutMs: 10_000, signal: AbortSignal.timeout(200) });
    t.equal(r.aborted, true);
    t.equal(r.timedOut, false);
    t.equal(r.exitCode, null);
  });

  t.test('upload and download a few MB with progress and matching SHA-256', async (t) => {
    const local = join(work, 'payload.bin');
    writeFileSync(local, randomBytes(3 * 1024 * 1024 + 17));
    const expected = sha256File(local);
    // A name that needs quoting when the guest hashes it.
    const remote = join(work, "guest side/it's a file.bin");
    await channel.exec(`mkdir -p ${quotePosix(join(work, 'guest side'))}`, { timeoutMs: 10_000 });

    const up: TransferProgress[] = [];
    const sent = await channel.upload(local, remote, { onProgress: (p) => up.push(p) });
    t.equal(sent.sha256, expected);
    t.equal(sent.bytes, 3 * 1024 * 1024 + 17);
    t.equal(sha256File(remote), expected, 'the file on the guest side is intact');
    t.ok(up.length > 1, 'several progress reports');
    t.same(up.at(-1), { bytesDone: sent.bytes, bytesTotal: sent.bytes });
    t.ok(up.every((p, i) => i === 0 || p.bytesDone > up[i - 1]!.bytesDone), 'progress only grows');

    const back = join(work, 'back.bin');
    const down: TransferProgress[] = [];
    const received = await channel.download(remote, back, { onProgress: (p) => down.push(p) });
    t.equal(received.sha256, expected);
    t.equal(sha256File(back), expected);
    t.same(down.at(-1), { bytesDone: sent.bytes, bytesTotal: sent.bytes });
    t.notOk(existsSync(`${back}.partial`), 'no partial file left behind');
  });

  t.test('a checksum mismatch is refused and the bad copy removed', async (t) => {
    // Test double: corruption in transit cannot be produced for real over a local SSH session,
    // so the guest's hash is made to disagree with what was sent.
    const corruptedInTransitRemoteSha256: RemoteSha256 = async () => 'f'.repeat(64);
    const liar = await connectSsh(options({ remoteSha256: corruptedInTransitRemoteSha256 }));
    t.teardown(() => liar.close());
    const source = join(work, 'source.bin');
    writeFileSync(source, randomBytes(64 * 1024));

    const target = join(work, 'corrupt-download.bin');
    const down = await liar.download(source, target).catch((e: unknown) => e);
    t.type(down, ChecksumMismatch);
    t.type(down, InfraFailure);
    t.match((down as Error).message, /download guest:.*source\.bin.*is [0-9a-f]{64}, expected f{64}/);
    t.notOk(existsSync(target), 'the bad local file is removed');
    t.notOk(existsSync(`${target}.partial`));

    const remote = join(work, 'corrupt-upload.bin');
    const up = await liar.upload(source, remote).catch((e: unknown) => e);
    t.type(up, ChecksumMismatch);
    t.match((up as Error).message, /upload .*source\.bin -> guest:.*corrupt-upload\.bin/);
    t.notOk(existsSync(remote), 'the bad remote file is removed');
  });

  t.test('a different host key is refused with both fingerprints, and not retried', async (t) => {
    const otherKey = makeKey(work, 'not-the-host-key');
    const pinned = keygenFingerprint(otherKey);
    const retries: number[] = [];
    const started = Date.now();
    const err = await connectSsh(
      options({
        hostKeyFingerprint: pinned,
        hostKeySource: 'images/lab/manifest.json (ssh.hostKeyFingerprint)',
        retry: { deadlineMs: 20_000, initialDelayMs: 100 },
        onRetry: (r) => retries.push(r.attempt),
      }),
    ).catch((e: unknown) => e);
    t.type(err, HostKeyMismatch);
    const message = (err as Error).message;
    t.ok(message.includes(pinned), 'names the pinned fingerprint');
    t.ok(message.includes(sshd.hostFingerprint), 'names the offered fingerprint');
    t.ok(message.includes('images/lab/manifest.json'), 'names where the pin came from');
    t.same(retries, [], 'no retry');
    t.ok(Date.now() - started < 5000, 'fails at once, not at the deadline');
  });

  t.test('a key the guest does not accept fails at once, not retried', async (t) => {
    const stranger = makeKey(work, 'stranger');
    const retries: number[] = [];
    const err = await connectSsh(
      options({ privateKeyPath: stranger, retry: { deadlineMs: 20_000 }, onRetry: (r) => retries.push(r.attempt) }),
    ).catch((e: unknown) => e);
    t.type(err, SshAuthFailed);
    t.notOk((err as Error).message.includes(readFileSync(stranger, 'utf8').split('\n')[1]!), 'no key material');
    t.same(retries, []);
  });

  t.test('connect retries while the server is not up yet, then succeeds', async (t) => {
    const late = await SshdFixture.create();
    t.teardown(() => late.dispose());
    const retries: string[] = [];
    const connecting = connectSsh({
      host: '127.0.0.1',
      port: late.port,
      username: late.user,
      privateKeyPath: late.clientKeyPath,
      hostKeyFingerprint: late.hostFingerprint,
      retry: { deadlineMs: 15_000, initialDelayMs: 100, maxDelayMs: 400 },
      onRetry: (r) => retries.push((r.error as NodeJS.ErrnoException).code ?? r.error.message),
    });
    await sleep(1500);
    await late.start();
    const lateChannel = await connecting;
    t.teardown(() => lateChannel.close());
    t.ok(lateChannel.attempts > 1, `took ${lateChannel.attempts} attempts`);
    t.ok(retries.includes('ECONNREFUSED'), 'refused connections were retried');
    const r = await lateChannel.exec('echo up', { timeoutMs: 10_000 });
    t.equal(r.stdout, 'up\n');
  });

  t.test('nothing listening: InfraFailure at the deadline, with attempts and the last error', async (t) => {
    const port = await freePort();
    const started = Date.now();
    const err = await connectSsh(
      options({ port, retry: { deadlineMs: 1200, initialDelayMs: 100, maxDelayMs: 300 } }),
    ).catch((e: unknown) => e);
    t.type(err, SshConnectFailed);
    t.type(err, InfraFailure);
    const failed = err as SshConnectFailed;
    t.ok(failed.attempts >= 2, `${failed.attempts} attempts`);
    t.equal((failed.lastError as NodeJS.ErrnoException).code, 'ECONNREFUSED');
    t.match(failed.message, new RegExp(`after ${failed.attempts} attempt\\(s\\).*ECONNREFUSED`));
    t.ok(Date.now() - started < 5000, 'gave up around the deadline');
  });

  t.test('heartbeat is lost when the guest stops answering and restored when it resumes', async (t) => {
    const hb = await SshdFixture.create();
    t.teardown(() => hb.dispose());
    await hb.start();
    const ch = await connectSsh({
      host: '127.0.0.1',
      port: hb.port,
      username: hb.user,
      privateKeyPath: hb.clientKeyPath,
      hostKeyFingerprint: hb.hostFingerprint,
    });
    t.teardown(() => ch.close());
    const misses: number[] = [];
    ch.on('heartbeat-miss', (m) => misses.push(m.misses));
    // Generous probe timeout: on a busy 2-core runner one exec (fork + shell) can take ~0.5 s.
    ch.startHeartbeat({ intervalMs: 200, timeoutMs: 1500, missesBeforeLost: 2 });
    await sleep(1500); // some good probes first
    t.equal(misses.length, 0, 'no miss while the guest answers');

    hb.pause(); // SIGSTOP sshd and its session processes
    t.teardown(() => hb.resume());
    const lost = await nextEvent(ch, 'heartbeat-lost', 10_000);
    t.equal(lost.misses, 2);
    t.ok(lost.lastOkAt !== undefined, 'it had been alive before');
    t.same(misses.slice(0, 2), [1, 2]);

    hb.resume();
    const restored = await nextEvent(ch, 'heartbeat-restored', 10_000);
    t.ok(restored.lostForMs >= 0);
    ch.stopHeartbeat();
    const r = await ch.exec('echo alive', { timeoutMs: 10_000 });
    t.equal(r.stdout, 'alive\n');

    // Now the session dies for good: a running command fails and the channel says so.
    const running = ch.exec('sleep 10', { timeoutMs: 20_000 }).catch((e: unknown) => e);
    const disconnected = nextEvent(ch, 'disconnected', 5000);
    await sleep(200);
    hb.killSessions();
    t.type(await running, GuestConnectionLost);
    t.match((await disconnected).reason, /closed/);
  });

  t.test('fromManifest pins the manifest host key and finds the key beside it', async (t) => {
    const manifest = {
      ssh: { user: sshd.user, hostKeyFingerprint: sshd.hostFingerprint, clientKey: 'client_ed25519' },
    } as ImageManifest;
    const o = fromManifest(sshd.dir, manifest, { host: '127.0.0.1', port: sshd.port });
    t.equal(o.privateKeyPath, sshd.clientKeyPath);
    t.match(o.hostKeySource, /manifest\.json/);
    const ch = await connectSsh(o);
    t.equal((await ch.exec('id -un', { timeoutMs: 10_000 })).stdout, 'root\n');
    await ch.close();

    const bad = { ssh: { user: 'x', hostKeyFingerprint: 'MD5:00:11', clientKey: 'k' } } as ImageManifest;
    t.throws(() => fromManifest(sshd.dir, bad, { host: '127.0.0.1', port: 22 }), InputError);
  });
}
