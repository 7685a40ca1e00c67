/**
 * The bad-input catalogue (issue 10, item 3): malformed inputs at every edge of MikroLB, each
 * answered with a clear error, within a bound, without a crash and without changing anything.
 * The edges' tables live beside this file; this one runs them and prints the tally.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admissionCases } from './admission.js';
import { annotationCases } from './annotations.js';
import { invokeCases } from './cli.js';
import { cloudEventCases } from './events.js';
import { environmentCases } from './environment.js';
import { poolSpecCases } from './pools.js';
import { routerCases } from './router.js';
import { tally, watchProcessFaults } from './support.js';

const count = tally();
const watch = watchProcessFaults();

beforeAll(() => {
  watch.faults.length = 0;
});

afterAll(() => {
  watch.stop();
  console.log(count.summary());
});

poolSpecCases(count);
annotationCases(count);
cloudEventCases(count);
admissionCases(count);
routerCases(count, () => watch.faults);
invokeCases(count);
environmentCases(count);

describe('the catalogue as a whole', () => {
  it('ran no case that crashed the process (no uncaught exception, no unhandled rejection)', () => {
    expect(watch.faults).toEqual([]);
  });
});
