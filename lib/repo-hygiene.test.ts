// CI runs on a clean clone: a file a test needs that .gitignore keeps out of git passes here and fails
// there (it happened: *.log hid the recorded crash consoles). Every ignored file must be in one of the
// folders that are generated on purpose.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const GENERATED = ['node_modules/', '.cache/', '.tap/', 'runs/', 'out/'];

const git = spawnSync('git', ['status', '--porcelain', '--ignored', '--untracked-files=all'], { cwd: repo, encoding: 'utf8' });
if (git.status !== 0) {
  t.comment(`SKIP: not a git checkout (${git.stderr.trim() || git.error?.message})`);
} else {
  t.test('no file outside the generated folders is ignored by git', async (t) => {
    const ignored = git.stdout
      .split('\n')
      .filter((l) => l.startsWith('!! '))
      .map((l) => l.slice(3))
      .filter((p) => !GENERATED.some((g) => p.startsWith(g)));
    t.same(ignored, [], 'ignored files a clean clone would not have (fix .gitignore or move them)');
  });
}
