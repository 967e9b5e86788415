import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { formatTable, runDemo } from './runDemo.js';

describe('pnpm demo', () => {
  it('serves the three tools and passes every audit check', async () => {
    const result = await runDemo();
    expect(result.transcript).toHaveLength(4);
    expect(result.checks.filter((c) => !c.ok)).toStrictEqual([]);
    expect(result.checks[0]).toMatchObject({ actual: '3' });
    expect((await readFile(result.auditLog, 'utf8')).trimEnd().split('\n')).toHaveLength(3);
  });

  it('would show a failing check as FAIL', () => {
    expect(formatTable([{ check: 'x', expected: '0', actual: '1', ok: false }])).toContain('FAIL');
  });
});
