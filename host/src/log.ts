/**
 * Plugin loggers: every line carries the plugin and device it came from, and goes to one
 * sink the embedder chooses (stderr by default; the qtest server and tests choose others).
 */
import type { Logger } from '@emuhost/sdk';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogSink = (level: LogLevel, source: string, message: string) => void;

export const stderrSink: LogSink = (level, source, message) => {
  if (level !== 'debug') process.stderr.write(`[${source}] ${level}: ${message}\n`);
};

export function createLogger(sink: LogSink, source: string): Logger {
  return Object.freeze({
    debug: (m: string) => sink('debug', source, String(m)),
    info: (m: string) => sink('info', source, String(m)),
    warn: (m: string) => sink('warn', source, String(m)),
    error: (m: string) => sink('error', source, String(m)),
  });
}
