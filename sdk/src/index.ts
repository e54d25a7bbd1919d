/**
 * @emuhost/sdk: the plugin contract. A plugin imports this package and nothing else.
 *
 * - `contract.ts`: the versioned contract itself (types and constants).
 * - `address.ts`: helpers that make and format branded addresses.
 * - `errors.ts`: `EmuhostError`, the one error family for host-side misuse.
 * - `define.ts`: `definePlugin`, what a plugin bundle exports.
 */

export * from './address.js';
export * from './contract.js';
export * from './define.js';
export * from './errors.js';
