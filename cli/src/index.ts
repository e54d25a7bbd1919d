/**
 * @emuhost/cli: the emuhost command line.
 *
 * - `start.ts`: what `npm start` runs.
 * - `kernel-tour.ts`: a printed tour of the kernel's memory model.
 */
export { kernelTour } from './kernel-tour.js';
