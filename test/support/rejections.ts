import { expect } from 'chai';
import { isBpfLoadError, type LoadError } from '../../loader/errors.js';

/**
 * `promise` must be refused with a bpf-load error, which is returned for the
 * test to look at. What it resolves to instead is closed first, so a wrong
 * success fails the test without leaking its fds into the next one.
 */
export async function expectRejection(promise: Promise<{ close(): void }>, what = 'the load'): Promise<LoadError> {
  try {
    (await promise).close();
  } catch (error) {
    expect(isBpfLoadError(error), String(error)).to.equal(true);
    return error as LoadError;
  }
  expect.fail(`${what} succeeded but should have been refused`);
}
