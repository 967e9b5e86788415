import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { keyIdOf, loadHmacKey } from './keys.js';

const HEX = '0f'.repeat(32);

describe('loadHmacKey', () => {
  it('uses the hex-decoded bytes as the key, whether from the environment or a file', async () => {
    const fromEnv = await loadHmacKey({ kind: 'env', hex: HEX });
    const dir = await mkdtemp(join(tmpdir(), 'keys-'));
    const path = join(dir, 'key.hex');
    await writeFile(path, `${HEX}\n`, { mode: 0o600 });
    const fromFile = await loadHmacKey({ kind: 'file', path });
    const expected = { id: keyIdOf(new Uint8Array(32).fill(0x0f)), bytes: new Uint8Array(32).fill(0x0f) };
    expect(fromEnv).toStrictEqual(E.right(expected));
    expect(fromFile).toStrictEqual(E.right(expected));
  });

  it('refuses a key file others can read, a short key, and a missing file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keys-'));
    const open = join(dir, 'open.hex');
    await writeFile(open, HEX);
    await chmod(open, 0o644);
    const short = join(dir, 'short.hex');
    await writeFile(short, '0f'.repeat(16), { mode: 0o600 });
    for (const path of [open, short, join(dir, 'missing.hex')]) {
      const result = await loadHmacKey({ kind: 'file', path });
      expect(E.isLeft(result) && result.left.variable).toBe('AUDIT_HMAC_KEY_FILE');
      expect(JSON.stringify(result)).not.toContain('0f0f');
    }
  });

  it('names a key by a fingerprint that differs per key and reveals no key bytes', () => {
    const a = keyIdOf(new Uint8Array(32).fill(1));
    expect(a).toMatch(/^k-[0-9a-f]{16}$/);
    expect(a).not.toBe(keyIdOf(new Uint8Array(32).fill(2)));
    expect(a).not.toContain('0101');
  });
});
