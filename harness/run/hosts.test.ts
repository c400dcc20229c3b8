import t from 'tap';
import { InputError } from '../../lib/errors.ts';
import { defaultHosts, parseHosts, parseSlots, slotsFor } from './hosts.ts';
import { providerOptionsFor } from './runners.ts';

t.test('reads an inventory', async (t) => {
  const hosts = parseHosts('hosts.yaml', `hosts:
  - { name: lab-1, provider: qemu, reach: local, slots: 2, memoryMiB: 16384, images: ['*'] }
  - name: hv-1
    provider: hyperv
    reach: ssh://fleet@hv-1.lab:2222
    slots: 4
    memoryMiB: 65536
    images: [win11-24h2, server-2022]
`);
  t.same(hosts.map((h) => [h.name, h.provider, h.slots, h.images]), [
    ['lab-1', 'qemu', 2, ['*']],
    ['hv-1', 'hyperv', 4, ['win11-24h2', 'server-2022']],
  ]);
});

t.test('errors name file, line and column', async (t) => {
  const bad = (text: string, re: RegExp): void => {
    try {
      parseHosts('hosts.yaml', text);
      t.fail(`no error for ${re.source}`);
    } catch (e) {
      t.ok(e instanceof InputError, 'an InputError');
      t.match((e as Error).message, re);
    }
  };
  bad('hosts:\n  - { name: a, provider: vmware, reach: local, slots: 1, memoryMiB: 4096, images: [lab] }\n', /^hosts\.yaml:2:\d+: hosts\[0\]\.provider is "vmware"; expected one of: qemu, hyperv/);
  bad('hosts:\n  - name: a\n    provider: qemu\n    reach: ssh://nouser\n    slots: 1\n    memoryMiB: 4096\n    images: [lab]\n', /^hosts\.yaml:4:12: .*expected local or ssh:\/\/user@host\[:port\]/);
  bad('hosts:\n  - name: a\n    provider: qemu\n    reach: local\n    slots: 0\n    memoryMiB: 4096\n    images: [lab]\n', /^hosts\.yaml:5:12: hosts\[0\]\.slots must be >= 1/);
  bad('hosts:\n  - { name: a, provider: qemu, reach: local, slots: 1, memoryMiB: 4096, images: [lab] }\n  - { name: a, provider: qemu, reach: local, slots: 1, memoryMiB: 4096, images: [lab] }\n', /^hosts\.yaml:3:13: host "a" is listed twice/);
  bad('hosts:\n  - { name: a, provider: qemu, reach: local, slots: 1, memoryMiB: 4096, images: [lab], cpu: 4 }\n', /^hosts\.yaml:2:\d+: unknown key "cpu"/);
  bad('hosts: [\n', /^hosts\.yaml:\d+:\d+: YAML syntax error/);
});

t.test('default host: slots from cores and memory, at least one', async (t) => {
  t.equal(slotsFor(2, 24105), 2, 'these 2-core machines');
  t.equal(slotsFor(16, 8192), 2, 'memory bound: (8192-2048)/(2048+600)');
  t.equal(slotsFor(4, 2048), 1, 'never below one');
  const [h] = defaultHosts();
  t.equal(h!.provider, 'qemu');
  t.equal(h!.reach, 'local');
  t.ok(h!.slots >= 1);
  t.equal(parseSlots('3'), 3);
  t.throws(() => parseSlots('0'), /--slots 0: expected a whole number/);
});

t.test("a Hyper-V host's settings: pinned host key, client key beside the file, folders, the guests' forwarded port", async (t) => {
  const [h] = parseHosts('/etc/fleetgate/hosts.yaml', `hosts:
  - name: hv-1
    provider: hyperv
    reach: ssh://fleet@hv-1.lab:2222
    slots: 1
    memoryMiB: 65536
    images: [win11-24h2]
    hyperv:
      hostKey: SHA256:${'A'.repeat(43)}
      identity: keys/hv-1
      imageRoot: 'D:\\images'
      vmRoot: 'D:\\vms'
      switch: Lab
      guestSshPort: 2200
`);
  t.same(h!.hyperv, { hostKey: `SHA256:${'A'.repeat(43)}`, identity: '/etc/fleetgate/keys/hv-1', imageRoot: 'D:\\images', vmRoot: 'D:\\vms', switch: 'Lab', guestSshPort: 2200 });
  const options = providerOptionsFor(h!);
  t.equal(options?.host.where, 'ssh fleet@hv-1.lab:2222', 'the reach is where the provider goes');
  t.match(options, { imageRoot: 'D:\\images', vmRoot: 'D:\\vms', switchName: 'Lab', guestSshPort: 2200 });
  t.equal(providerOptionsFor({ name: 'q', provider: 'qemu', reach: 'local', slots: 1, memoryMiB: 4096, images: ['*'] }), undefined, 'QEMU needs none');
  const entry = (extra: string) => `hosts:\n  - { name: x, provider: ${extra}, reach: local, slots: 1, memoryMiB: 4096, images: ['*'] }\n`;
  t.throws(() => parseHosts('hosts.yaml', entry("qemu, hyperv: { switch: Lab }")), /host "x" has hyperv settings but its provider is qemu/);
  t.throws(() => parseHosts('hosts.yaml', entry("hyperv, hyperv: { imageRoot: /srv/images }")), /hosts\.yaml:2:.*imageRoot.*a Windows path/);
  t.throws(() => parseHosts('hosts.yaml', entry("hyperv, hyperv: { hostKey: 'not-a-key' }")), /hostKey.*SHA256/);
});
