// Fuzz test of the workload agent's output reader (issue #16): the agent runs in the guest, so its JSON
// is untrusted. Seeded from a real-shaped result, mutated as text and as JSON values. Fixed seed: the
// reader gives a result or a fatal document, or refuses with an InputError naming the source.
import t from 'tap';
import fc from 'fast-check';
import { InputError } from '../lib/errors.ts';
import { mutatedText } from '../lib/testdata/mutate.ts';
import { parseAgentOutput } from './result.ts';

const step = {
  name: 'open', op: 'open', status: 'ok', count: 1, errors: 0, opsPerSec: 1,
  latencyUs: { min: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0, stddev: 0 }, histogram: 'HISTFAAAACB4nJNpmSzMwMDAxAABzFCaEUoz2X+AMIKlAYGAASk=',
};
const result = { schema: 'fleetgate-agent-result/1', workload: 'file-storm', ok: true, host: { node: 'v20', platform: 'linux', release: '6.1', hostname: 'g' }, steps: [step, { ...step, name: 'read', op: 'read' }] };
const seeds = [JSON.stringify(result, null, 2), JSON.stringify({ schema: 'fleetgate-agent-result/1', fatal: 'no workdir' })];

t.test('parseAgentOutput: mutated agent output reads or is refused naming its source', async (t) => {
  let read = 0;
  const check = (text: string): void => {
    try {
      const out = parseAgentOutput(text, 'cell x/file-storm stdout');
      if (out.kind !== 'result' && out.kind !== 'fatal') throw new Error(`kind ${JSON.stringify(out as unknown)}`);
      read++;
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      if (e.place.file !== 'cell x/file-storm stdout') throw new Error(`names ${e.place.file}`);
    }
  };
  fc.assert(fc.property(mutatedText(seeds), check), { seed: 1616, numRuns: 1000 });
  // Values of any shape where the document has its fields.
  fc.assert(
    fc.property(fc.constantFrom('workload', 'host', 'steps', 'ok', 'schema'), fc.jsonValue(), (key, value) => check(JSON.stringify({ ...result, [key]: value }))),
    { seed: 1616, numRuns: 500 },
  );
  t.ok(read > 0, `${read} read`);
});

t.test('parseAgentOutput (#16): output whose head the channel dropped is refused as cut, naming AGENT_OUTPUT_MAX_BYTES', async (t) => {
  const whole = JSON.stringify(result);
  t.equal(parseAgentOutput(whole, 'src').kind, 'result');
  // The tail of a document is often valid-looking JSON of its own (the last step's object): never read it.
  t.throws(() => parseAgentOutput(whole.slice(whole.length / 2), 'src', 1000), { message: /printed [\d,]+ bytes, more than AGENT_OUTPUT_MAX_BYTES \(16,777,216\); the first 1,000 were dropped/ });
});
