// Sends a response body no faster than a given rate, as a CDN or a daemon's peers that cap each
// connection would: the source is paused whenever the bytes sent run ahead of the allowed rate.
// Used by the fake daemon proxy and by the benchmark's throttling proxy.
import type { Readable, Writable } from 'node:stream';

/** Pipes `source` into `out` at most `bytesPerSecond`; either side failing or closing ends the other. */
export function pipePaced(source: Readable, out: Writable, bytesPerSecond: number): void {
  const started = performance.now();
  let sent = 0;
  source.on('data', (c: Buffer) => {
    sent += c.length;
    out.write(c);
    const ahead = (sent / bytesPerSecond) * 1000 - (performance.now() - started);
    if (ahead > 1) {
      source.pause();
      setTimeout(() => source.resume(), ahead);
    }
  });
  source.on('end', () => out.end());
  source.on('error', () => out.destroy());
  out.on('close', () => source.destroy());
}
