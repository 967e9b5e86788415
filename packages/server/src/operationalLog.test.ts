import { describe, expect, it } from 'vitest';
import { errorClassOf, makeOperationalLog, stackFramesOf } from './operationalLog.js';

describe('the operational log', () => {
  it('writes one JSON object per line with a time and a level', () => {
    const lines: string[] = [];
    const log = makeOperationalLog({ write: (s: string) => lines.push(s) } as never, () => new Date('2026-01-01T00:00:00.000Z'));
    log({ event: 'transport_error', error_class: 'SyntaxError' });
    expect(lines).toStrictEqual(['{"time":"2026-01-01T00:00:00.000Z","level":"error","event":"transport_error","error_class":"SyntaxError"}\n']);
  });

  it('writes nothing below LOG_LEVEL, and nothing at all when silent', () => {
    const lines: string[] = [];
    const log = makeOperationalLog({ write: (s: string) => lines.push(s) } as never);
    log.setLevel('warn');
    log({ event: 'server_stopped', reason: 'signal' });
    log({ event: 'process_warning', warning_class: 'DeprecationWarning' });
    log.setLevel('silent');
    log({ event: 'transport_error', error_class: 'SyntaxError' });
    expect(lines.map((l) => JSON.parse(l).event)).toStrictEqual(['process_warning']);
  });

  it('keeps stack frames and drops the message, even a multi-line one that mimics a frame', () => {
    const error = new TypeError(
      'no patient 4e122e91-c63f\nat Patient Jane Roe (999 Main St)\n    at Jane.Roe (/tmp/Jane_Roe:1:1)\n    at Jane Roe SSN (/tmp/x:1:1)',
    );
    const frames = stackFramesOf(error);
    expect(frames.length).toBeGreaterThan(0);
    for (const frame of frames) expect(frame).toMatch(/^at .*:\d+:\d+\)?$/);
    expect(frames.join('\n')).not.toMatch(/4e122e91|Jane|Main St|SSN/);
    expect(frames[0]).toMatch(/operationalLog\.test\.ts:\d+:\d+\)?$/);
    expect(errorClassOf(error)).toBe('TypeError');
    expect(errorClassOf('a string with Jane Roe')).toBe('string');
    expect(stackFramesOf({ stack: 'Jane' })).toStrictEqual([]);
  });
});
