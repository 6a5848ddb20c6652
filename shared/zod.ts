import en from 'zod/v4/locales/en.js';
import * as z from 'zod/mini';

/**
 * The project's zod: zod/mini, whose schemas are plain functions a bundler keeps only when used (about 25 KiB in a
 * function's bundle, against about 90 KiB for zod's classic API, whose every schema carries every method; issue 15),
 * with zod's English messages, which classic loads by itself and mini does not. Every schema imports z from here, so
 * the messages the relay's 400 answers and the device-side client's checks quote are the same wherever it runs.
 */
z.config(en());

export * from 'zod/mini';
