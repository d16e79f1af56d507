// A fake of the few Google Drive v3 REST calls GoogleDriveKeyStorage makes,
// on 127.0.0.1: Google Drive cannot be reached from the test machines, so
// this stands in for it. It implements exactly
//
//   GET  /drive/v3/files?spaces=appDataFolder&q=name = '…' and trashed = false
//   POST /upload/drive/v3/files?uploadType=multipart   (multipart/related)
//   GET  /drive/v3/files/{id}?alt=media
//
// with a bearer token check, and refuses everything else, so that the
// adapter is held to the calls the real API documents.

import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';

export async function startFakeDrive({ token }) {
  const files = new Map(); // id → {name, parents, data: Buffer}
  const calls = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url, 'http://127.0.0.1');
      calls.push(`${req.method} ${url.pathname}`);
      const send = (status, body, type = 'application/json') => {
        res.writeHead(status, { 'Content-Type': type });
        res.end(type === 'application/json' ? JSON.stringify(body) : body);
      };
      if (req.headers.authorization !== `Bearer ${token}`) {
        return send(401, { error: { code: 401, message: 'Invalid Credentials' } });
      }
      if (req.method === 'GET' && url.pathname === '/drive/v3/files') {
        if (url.searchParams.get('spaces') !== 'appDataFolder') {
          return send(400, { error: { code: 400, message: 'this fake serves the appDataFolder space only' } });
        }
        const m = /^name = '((?:[^'\\]|\\.)*)' and trashed = false$/.exec(url.searchParams.get('q') ?? '');
        if (!m) {
          return send(400, { error: { code: 400, message: 'unsupported query' } });
        }
        const name = m[1].replace(/\\(.)/g, '$1');
        const found = [...files].filter(([, f]) => f.name === name).map(([id, f]) => ({ id, name: f.name }));
        return send(200, { files: found });
      }
      if (req.method === 'POST' && url.pathname === '/upload/drive/v3/files') {
        const b = /^multipart\/related; boundary=(.+)$/.exec(req.headers['content-type'] ?? '');
        if (url.searchParams.get('uploadType') !== 'multipart' || !b) {
          return send(400, { error: { code: 400, message: 'want a multipart upload' } });
        }
        const body = Buffer.concat(chunks);
        const sep = Buffer.from(`--${b[1]}`);
        const parts = [];
        let at = body.indexOf(sep);
        while (at >= 0) {
          const next = body.indexOf(sep, at + sep.length);
          if (next < 0) {
            break;
          }
          parts.push(body.subarray(at + sep.length + 2, next - 2)); // drop CRLF after the boundary and before the next
          at = next;
        }
        if (parts.length !== 2) {
          return send(400, { error: { code: 400, message: `want 2 parts, got ${parts.length}` } });
        }
        const split = (p) => {
          const i = p.indexOf('\r\n\r\n');
          return { headers: p.subarray(0, i).toString(), content: p.subarray(i + 4) };
        };
        const meta = split(parts[0]);
        const media = split(parts[1]);
        let m;
        try {
          m = JSON.parse(meta.content.toString());
        } catch {
          return send(400, { error: { code: 400, message: 'metadata is not JSON' } });
        }
        if (!/application\/json/.test(meta.headers) || !Array.isArray(m.parents) || m.parents[0] !== 'appDataFolder') {
          return send(400, { error: { code: 400, message: 'want JSON metadata with parents [appDataFolder]' } });
        }
        const id = randomBytes(8).toString('hex');
        files.set(id, { name: m.name, parents: m.parents, data: Buffer.from(media.content) });
        return send(200, { id });
      }
      const get = /^\/drive\/v3\/files\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'GET' && get && url.searchParams.get('alt') === 'media') {
        const f = files.get(decodeURIComponent(get[1]));
        if (!f) {
          return send(404, { error: { code: 404, message: 'File not found' } });
        }
        return send(200, f.data, 'application/octet-stream');
      }
      return send(404, { error: { code: 404, message: `the fake has no ${req.method} ${url.pathname}` } });
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    files,
    calls,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
