import t from 'tap';
import type { ExecResult } from '../channel.ts';
import { RemoteCommandFailed } from './errors.ts';
import { parseSha256sumOutput, posixRemoteSha256 } from './remote-sha256.ts';

const H = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

t.test('parses GNU and busybox output, including the escaped-name form', async (t) => {
  t.equal(parseSha256sumOutput(`${H}  /tmp/a\n`, '/tmp/a'), H);
  t.equal(parseSha256sumOutput(`\\${H}  /tmp/a\\nb\n`, '/tmp/a\nb'), H);
  t.equal(parseSha256sumOutput(`${H.toUpperCase()}  x\n`, 'x'), H);
});

t.test('rejects anything else, naming the file and what was expected', async (t) => {
  t.throws(() => parseSha256sumOutput('sha256sum: x: No such file\n', 'x'), {
    name: 'RemoteCommandFailed',
    message: /guest:x.*64 hex digits/,
  });
  t.throws(() => parseSha256sumOutput(`${H}extra  x`, 'x'), RemoteCommandFailed);
});

t.test('the default runs sha256sum with the path quoted and checks the exit code', async (t) => {
  const seen: string[] = [];
  const reply = (r: Partial<ExecResult>) => ({
    exec: async (command: string): Promise<ExecResult> => {
      seen.push(command);
      return {
        exitCode: 0, stdout: '', stderr: '', stdoutDroppedBytes: 0, stderrDroppedBytes: 0,
        truncated: false, timedOut: false, aborted: false, durationMs: 1, ...r,
      };
    },
  });
  t.equal(await posixRemoteSha256("/tmp/it's here", reply({ stdout: `${H}  x\n` })), H);
  t.equal(seen[0], `sha256sum -- '/tmp/it'\\''s here'`);
  await t.rejects(posixRemoteSha256('/nope', reply({ exitCode: 1, stderr: 'No such file' })), {
    message: /exited with 1.*No such file/,
  });
});
