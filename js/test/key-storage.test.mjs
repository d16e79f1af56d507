// GoogleDriveKeyStorage against a local fake of the Drive v3 API
// (fake-drive.mjs): Google Drive cannot be reached from here.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { GoogleDriveKeyStorage, loadOrCreateKey } from '../key-storage.js';
import { startFakeDrive } from './fake-drive.mjs';

const wallet = '0123456789abcdef0123456789abcdef';

test('a key saved to the appDataFolder loads back, and is not replaced', async (t) => {
  const drive = await startFakeDrive({ token: 'ya29.test-token' });
  t.after(drive.close);
  const storage = new GoogleDriveKeyStorage({ accessToken: 'ya29.test-token', baseUrl: drive.url });
  assert.equal(await storage.load(wallet), null);

  const key = await loadOrCreateKey(storage, wallet);
  assert.equal(key.length, 32);
  assert.equal(drive.files.size, 1);
  const [file] = drive.files.values();
  assert.equal(file.name, `duet-backup-key-${wallet}.bin`);
  assert.deepEqual(file.parents, ['appDataFolder']);
  assert.deepEqual(new Uint8Array(file.data), key);

  // Another session of the app (a new device) finds the same key.
  const again = new GoogleDriveKeyStorage({ accessToken: async () => 'ya29.test-token', baseUrl: drive.url });
  assert.deepEqual(await loadOrCreateKey(again, wallet), key);
  assert.equal(drive.files.size, 1);

  // The same key saves as a no-op; a different one is refused and the
  // stored one stays.
  await storage.save(wallet, key);
  const other = new Uint8Array(32).fill(7);
  await assert.rejects(storage.save(wallet, other), { code: 'INVALID_ARGUMENT' });
  assert.deepEqual(await storage.load(wallet), key);
  assert.equal(drive.files.size, 1);

  // Another wallet has its own file.
  const second = await loadOrCreateKey(storage, 'fedcba9876543210fedcba9876543210');
  assert.notDeepEqual(second, key);
  assert.equal(drive.files.size, 2);
  assert.ok(drive.calls.every((c) => ['GET /drive/v3/files', 'POST /upload/drive/v3/files'].includes(c) || c.startsWith('GET /drive/v3/files/')));
});

test('a wrong token, a short file and bad arguments are clear errors', async (t) => {
  const drive = await startFakeDrive({ token: 'right' });
  t.after(drive.close);
  const wrong = new GoogleDriveKeyStorage({ accessToken: 'wrong', baseUrl: drive.url });
  await assert.rejects(wrong.load(wallet), { code: 'UNAUTHORIZED' });
  await assert.rejects(loadOrCreateKey(wrong, wallet), { code: 'UNAUTHORIZED' });
  assert.equal(drive.files.size, 0);

  drive.files.set('short', { name: `duet-backup-key-${wallet}.bin`, parents: ['appDataFolder'], data: Buffer.alloc(31) });
  const storage = new GoogleDriveKeyStorage({ accessToken: 'right', baseUrl: drive.url });
  await assert.rejects(storage.load(wallet), { code: 'SERVER_ERROR', message: /31 bytes/ });

  await assert.rejects(storage.save(wallet, new Uint8Array(16)), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(storage.load("x' or name contains '"), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => new GoogleDriveKeyStorage({}), { code: 'INVALID_ARGUMENT' });

  const down = new GoogleDriveKeyStorage({ accessToken: 'right', baseUrl: 'http://127.0.0.1:1' });
  await assert.rejects(down.load(wallet), { code: 'NETWORK' });
});
