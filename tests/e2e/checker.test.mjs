// The randomized checker of the client (checker/run.mjs): the regression seeds first,
// then fresh seeds (each printed; CHECKER_SEED=<n> replays one). Small by default (run
// by `cargo xtask test`); `cargo xtask test --soak` sets CHECKER_SEEDS and CHECKER_OPS.
import { after, before, test } from 'node:test';
import { launchBrowser } from './support.mjs';
import { describeFailure, faultsFromEnv, regressions, runSeed, seedsFromEnv } from './checker/run.mjs';

const OPS = Number(process.env.CHECKER_OPS ?? 100);
const SEEDS = 2;

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

let seedsRun = 0;
let opsRun = 0;
let failures = 0;
async function check(seed, ops, faults = faultsFromEnv()) {
  console.log(`checker: seed ${seed}, ${ops} ops, faults ${faults.join(',')} (replay: CHECKER_SEED=${seed} CHECKER_OPS=${ops} CHECKER_FAULTS=${faults.join(',')})`);
  const result = await runSeed({ browser, seed, ops, faults });
  seedsRun++;
  opsRun += ops;
  if (!result.ok) {
    failures++;
    throw new Error(describeFailure(result));
  }
}

if (!process.env.CHECKER_SEED) {
  for (const { seed, ops, faults, note } of regressions()) {
    test(`checker regression seed ${seed} (${note})`, () => check(seed, ops, faults?.split(',')));
  }
}
for (const seed of seedsFromEnv(SEEDS)) {
  test(`checker seed ${seed}`, () => check(seed, OPS));
}

after(() => {
  console.log(`${seedsRun} seeds, ${opsRun} ops: ${failures ? `${failures} failed` : 'ok'}`);
});
