// Issue #16 row 10 against the Hyper-V host double (test-doubles/host-double.ts): the real
// PowerShellDirectChannel, the real host scripts over real SSH (sshd, cmd-less Windows OpenSSH stand-in,
// the powershell.exe double, the Hyper-V cmdlet doubles, a child pwsh per guest call, the Windows
// guest double's cmd.exe), with the argv of every process on this machine sampled from /proc while it
// runs. The password must be in none of them, in any of fleetgate's encodings, and must still reach
// New-PSSession (the double refuses a wrong one). A process started here with the password encoded
// on its command line proves the sampler sees a leak that lives as long as a host script does.
import cp from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { pwshSkip } from '../../../lib/pwsh.ts';
import { GuestConnectionLost } from '../../guest/channel.ts';
import { sshdMissingReason } from '../../guest/ssh/sshd-fixture.ts';
import { encodePowerShell, parseResult } from '../../guest/windows/encode.ts';
import { startWindowsDouble, windows11State } from '../../guest/windows/test-doubles/guest-double.ts';
import { prepareHostPowerShell } from './encode-host.ts';
import { PowerShellDirectChannel } from './powershell-direct.ts';
import { startHyperVHostDouble } from './test-doubles/host-double.ts';
import { ArgvWatch, revealsSecret } from './testdata/argv-watch.ts';

const skip = sshdMissingReason() || pwshSkip();
/** A password no other test or process uses, so that finding it anywhere means it leaked from here. */
const SECRET = `Fg-${randomBytes(12).toString('hex')}-pw`;
/** The disk addVm's VMs differ from (host-double.ts): here the guest double's state. */
const PARENT = 'C:\\fleetgate\\images\\(an earlier image)\\disk.vhdx';

t.test('row 10 (#16): PowerShell Direct over real SSH to the Hyper-V host double: no process on the machine has the password in its argv', { skip, timeout: 300_000 }, async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'fg-secret-double-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const g = await startWindowsDouble();
  t.teardown(() => g.stop());
  const hv = await startHyperVHostDouble({ guest: { dir: g.stateDir, address: '127.0.0.1' }, goldenDisks: { [PARENT]: JSON.stringify(windows11State()) }, guestPassword: SECRET });
  t.teardown(() => hv.stop());
  const host = hv.host();
  t.teardown(() => host.close());
  const name = 'fleetgate-cell-secret';
  hv.addVm({ name, vmDir: `C:\\fleetgate\\vms\\${name}` });
  await host.run('start_vm', { name });
  mkdirSync(hv.hostPath('C:\\fleetgate\\staging'), { recursive: true });
  const direct = new PowerShellDirectChannel({ host, vmName: name, user: 'fleetgate', password: SECRET, stagingDir: 'C:\\fleetgate\\staging' });

  const watch = new ArgvWatch(10).start();
  // The control: a process that lives about as long as one host script, its argv an -EncodedCommand
  // whose input holds the password (under a key that is no secret's, so that it goes encoded).
  const leak = prepareHostPowerShell('get_vm_state', { name, note: SECRET }, Number.MAX_SAFE_INTEGER);
  t.equal(leak.mode, 'encoded');
  const control = cp.spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1500)', leak.command], { stdio: 'ignore' });
  const controlDone = new Promise((resolve) => control.once('exit', resolve));
  let seen;
  try {
    const alive = await direct.exec(encodePowerShell('test_alive', {}), { timeoutMs: 60_000 });
    t.equal(alive.exitCode, 0, alive.stderr);
    t.match(parseResult(alive.stdout, 'test_alive'), { alive: true }, 'a command ran in the guest');
    const local = path.join(root, 'payload.bin');
    writeFileSync(local, 'fleetgate payload\n');
    await direct.upload(local, 'C:\\fleetgate\\drop\\payload.bin');
    t.equal(readFileSync(g.hostPath('C:\\fleetgate\\drop\\payload.bin'), 'utf8'), 'fleetgate payload\n', "copied onto the guest's C: drive");
    await direct.download('C:\\fleetgate\\drop\\payload.bin', path.join(root, 'back.bin'));
    t.equal(readFileSync(path.join(root, 'back.bin'), 'utf8'), 'fleetgate payload\n', 'and back');
    // Not only PowerShell Direct's scripts (long enough for stdin anyway): a short one given a password.
    t.match(await host.run('get_vm_state', { name, password: SECRET }), { exists: true, name, state: 'Running' });
    // The password is checked where it arrives: a wrong one is refused by New-PSSession's double
    // (PowerShellDirectChannel reports every PSSession failure as a lost connection).
    const wrong = new PowerShellDirectChannel({ host, vmName: name, user: 'fleetgate', password: `${SECRET}-not`, stagingDir: 'C:\\fleetgate\\staging' });
    const refused = await wrong.exec('exit 0', { timeoutMs: 30_000 }).catch((e: unknown) => e);
    t.ok(refused instanceof GuestConnectionLost, 'a wrong password: no session');
    t.match((refused as Error).message, /The credential is invalid\./);
  } finally {
    await controlDone;
    seen = watch.stop();
  }
  t.ok(watch.samples > 10, `sampled /proc ${watch.samples} times`);
  const mine = seen.filter((p) => p.pid === control.pid);
  t.ok(mine.some((p) => revealsSecret(p.argv, SECRET)), 'the control process with the password encoded in its argv was seen and caught');
  const others = seen.filter((p) => p.pid !== control.pid);
  t.ok(others.some((p) => p.argv.includes('-EncodedCommand')), 'the host double\'s powershell processes were sampled');
  const leaks = others.filter((p) => revealsSecret(p.argv, SECRET));
  t.same(leaks.map((p) => `${p.pid}: ${p.argv.slice(0, 120)}`), [], `none of ${others.length} distinct argv seen holds the password`);
});
