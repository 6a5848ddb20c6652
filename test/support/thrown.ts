import { expect } from 'vitest';

/** Runs `act`, asserts it throws an instance of `errorClass`, and returns the error for further assertions. */
export function thrownBy<E extends Error>(act: () => unknown, errorClass: abstract new (...args: never[]) => E): E {
  let thrown: unknown;
  try {
    act();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected a throw').toBeInstanceOf(errorClass);
  return thrown as E;
}

/** Awaits `promise`, asserts it rejects with an instance of `errorClass`, and returns the error for further assertions. */
export async function rejectionOf<E extends Error>(promise: Promise<unknown>, errorClass: abstract new (...args: never[]) => E): Promise<E> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a rejection').toBeInstanceOf(errorClass);
  return error as E;
}
