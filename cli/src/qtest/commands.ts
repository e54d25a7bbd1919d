/**
 * The QMP commands that change a running machine, as QEMU's qtest programs use them:
 * `device_add` (a device plugin hot-plugged where `addr` says), `device_del` (unplugged at
 * once, then `DEVICE_DELETED`: there is no ACPI hot-plug controller whose eject the guest
 * would have to wait for), `block_resize` (a drive's image truncated or extended; the device
 * on it is told and raises a configuration interrupt).
 */
import { aliasOf, bundledPlugins, type Emulator, type PluginHost, parseAddr } from '@emuhost/host';
import type { OptionValue } from '@emuhost/sdk';
import type { QmpOutcome } from './qmp.js';

const PLACEMENT = new Set(['driver', 'id', 'bus', 'addr']);

const err = (desc: string): QmpOutcome => ({ error: { class: 'GenericError', desc } });

/** Handles a machine-changing command, or answers undefined for another command. */
export function machineCommand(
  emu: Emulator,
  host: PluginHost,
  name: string,
  args: Record<string, unknown>,
): QmpOutcome | undefined {
  try {
    switch (name) {
      case 'block_resize': {
        const id = String(args.device ?? args['node-name'] ?? '');
        const drive = emu.backends.drives.get(id);
        if (drive === undefined) return err(`Device '${id}' not found`);
        const size = Number(args.size);
        drive.resize(size);
        return { return: {} };
      }
      case 'device_add': {
        const driver = String(args.driver ?? '');
        const alias = host.get(driver) === undefined ? aliasOf(host, driver) : undefined;
        const id = alias?.plugin ?? driver;
        const plugin = host.get(id);
        if (plugin === undefined)
          return bundledPlugins().has(id)
            ? err(
                `'${driver}' must be loaded at start to be hot-plugged (give it once with -device)`,
              )
            : err(`'${driver}' is not a valid device model name`);
        const options: Record<string, OptionValue> = {};
        for (const [k, v] of Object.entries(args))
          if (!PLACEMENT.has(k))
            options[k] = typeof v === 'object' ? JSON.stringify(v) : (v as OptionValue);
        emu.addDevice(plugin, {
          ...(typeof args.id === 'string' && { id: args.id }),
          ...(typeof args.bus === 'string' && { bus: args.bus }),
          ...(typeof args.addr === 'string' && { devfn: parseAddr(args.addr) }),
          ...(alias?.bus === 'platform' && { platform: true }),
          options,
        });
        return { return: {} };
      }
      case 'device_del': {
        const id = String(args.id ?? '');
        if (!emu.devices.has(id)) return err(`Device '${id}' not found`);
        emu.removeDevice(id);
        return {
          return: {},
          events: [
            {
              event: 'DEVICE_DELETED',
              data: { device: id, path: `/machine/peripheral/${id}` },
            },
          ],
        };
      }
      default:
        return undefined;
    }
  } catch (e) {
    return err(e instanceof Error ? e.message : String(e));
  }
}
