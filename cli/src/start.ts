/** `npm start`: runs the default machine (for now, the kernel tour; see kernel-tour.ts). */
import { kernelTour } from './kernel-tour.js';

kernelTour();
