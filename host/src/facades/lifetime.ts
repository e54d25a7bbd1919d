/**
 * The lifetime of one plugin instance's handles. Every facade method checks it first, so once
 * the instance is gone (unplugged, reloaded, quarantined) a call through any handle it held,
 * even from a closure that leaked, throws `E_REVOKED` and never reaches the machine.
 */
import { pluginError } from './checks.js';

export class Lifetime {
  revoked = false;

  constructor(
    readonly plugin: string,
    readonly device: string,
  ) {}

  check(what: string): void {
    if (this.revoked) {
      throw pluginError(
        'E_REVOKED',
        `${what} was called through a revoked handle (its instance is gone)`,
        { plugin: this.plugin, device: this.device },
      );
    }
  }

  revoke(): void {
    this.revoked = true;
  }
}
