// Core's extra stages as the TypeScript door declares them, over a real socket (fetch) and in-process:
// @Cached (ETag, Cache-Control, 304), @Upload with @UploadedFile / @UploadedFiles (multipart, 413,
// 415), @Paginated ({data, meta}, Link, 400 naming the field), and the app's bodyLimit (413) and a
// JSON body route sent another media type (415).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Body,
  Cached,
  Controller,
  Get,
  HttpResponse,
  IsString,
  Module,
  Omnitron,
  Paginated,
  Post,
  Query,
  Req,
  Upload,
  UploadedFile,
  UploadedFiles,
  type HttpRequest,
  type OmnitronApp,
  type UploadedFileInfo,
} from '@omnitron-dev/native';
import { Test } from '@omnitron-dev/native/testing';

/** How many times each handler ran. */
const calls = { clock: 0, bump: 0, noStore: 0 };

@Controller('clock')
class ClockController {
  @Get()
  @Cached({ ttl: 90 })
  now(@Query('tz') tz?: string) {
    calls.clock += 1;
    return { n: calls.clock, tz: tz ?? null };
  }

  @Post()
  bump() {
    calls.bump += 1;
    return { n: calls.bump };
  }

  @Get('no-store')
  @Cached({ ttl: 90 })
  noStore() {
    calls.noStore += 1;
    return new HttpResponse({ n: calls.noStore }, { headers: { 'cache-control': 'no-store' } });
  }
}

/** What a handler saw of a file: multer's fields, the bytes in hex. */
function seen(f: UploadedFileInfo | undefined) {
  if (f === undefined) return null;
  assert.ok(Buffer.isBuffer(f.buffer), 'the bytes are a Buffer');
  return { fieldname: f.fieldname, originalname: f.originalname, mimetype: f.mimetype, size: f.size, hex: f.buffer.toString('hex') };
}

@Controller('files')
class FilesController {
  @Post('avatar')
  @Upload({ maxSize: 1024, mimeTypes: ['image/*', 'application/pdf'], field: 'avatar' })
  avatar(@UploadedFile() file: UploadedFileInfo, @UploadedFile('other') none: UploadedFileInfo | undefined, @Body() fields: unknown) {
    return { file: seen(file), none: none ?? null, fields };
  }

  @Post('album')
  @Upload({ maxSize: '2KB', field: 'photos' })
  album(@UploadedFiles() files: UploadedFileInfo[], @Body('title') title: unknown) {
    return { files: files.map(seen), title };
  }
}

@Controller('people')
class PeopleController {
  /** 45 people, ids 0 to 44, a page of them with the total. */
  @Get()
  @Paginated({ defaultLimit: 10, maxLimit: 25 })
  list(@Req() req: HttpRequest) {
    const p = req.page!;
    const items = Array.from({ length: Math.max(0, Math.min(p.limit, 45 - p.offset)) }, (_, i) => ({ id: p.offset + i }));
    return { items, total: 45 };
  }

  @Get('plain')
  @Paginated()
  plain(@Req() req: HttpRequest, @Query('limit') limit: unknown) {
    // page and limit stay in the query too.
    return [req.page, limit ?? null];
  }

  @Get('summary')
  @Paginated()
  summary() {
    return { count: 3 };
  }
}

class NoteDto {
  @IsString() text!: string;
}

@Controller('notes')
class NotesController {
  @Post()
  create(@Body() note: NoteDto) {
    return note;
  }

  @Post('raw')
  raw(@Body() body: unknown) {
    return { body };
  }
}

@Module({ controllers: [ClockController, FilesController, PeopleController, NotesController] })
class AppModule {}

const BODY_LIMIT = 2048;
let app: OmnitronApp;
let base: string;

before(async () => {
  app = await Omnitron.create(AppModule, { http: { bodyLimit: BODY_LIMIT } });
  base = `http://127.0.0.1:${await app.listen(0, '127.0.0.1')}`;
});

after(() => app.close());

/** A problem document's status, code and detail. */
async function problem(r: Response) {
  assert.match(r.headers.get('content-type') ?? '', /application\/problem\+json/);
  const p = (await r.json()) as { status: number; code: string; detail: string; errors?: { in: string; path: string }[] };
  assert.equal(p.status, r.status);
  return p;
}

test('@Cached: an ETag and Cache-Control in seconds, the kept answer served again, 304 on a matching If-None-Match', async () => {
  const first = await fetch(`${base}/clock`);
  assert.equal(first.status, 200);
  assert.deepEqual(await first.json(), { n: 1, tz: null });
  const etag = first.headers.get('etag');
  assert.ok(etag !== null && /^"[^"]+"$/.test(etag), `a strong tag: ${etag}`);
  // ttl is seconds: 90, not 0.09.
  assert.equal(first.headers.get('cache-control'), 'public, max-age=90');

  const again = await fetch(`${base}/clock`);
  assert.equal(again.status, 200);
  assert.deepEqual(await again.json(), { n: 1, tz: null });
  assert.equal(again.headers.get('etag'), etag);
  const left = /^public, max-age=(\d+)$/.exec(again.headers.get('cache-control') ?? '');
  assert.ok(left && Number(left[1]) > 0 && Number(left[1]) <= 90, String(again.headers.get('cache-control')));
  assert.equal(calls.clock, 1, 'the repeat came from the cache');

  for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
    const r = await fetch(`${base}/clock`, { headers: { 'if-none-match': inm } });
    assert.equal(r.status, 304, `If-None-Match: ${inm}`);
    assert.equal(await r.text(), '');
    assert.equal(r.headers.get('etag'), etag);
    assert.match(r.headers.get('cache-control') ?? '', /^public, max-age=\d+$/);
  }
  const other = await fetch(`${base}/clock`, { headers: { 'if-none-match': '"another-tag"' } });
  assert.equal(other.status, 200);
  assert.deepEqual(await other.json(), { n: 1, tz: null });
  assert.equal(calls.clock, 1);

  // Another query is another answer, kept in turn.
  const tz = await fetch(`${base}/clock?tz=UTC`);
  assert.deepEqual(await tz.json(), { n: 2, tz: 'UTC' });
  assert.notEqual(tz.headers.get('etag'), etag);
  assert.deepEqual(await (await fetch(`${base}/clock?tz=UTC`)).json(), { n: 2, tz: 'UTC' });
  assert.equal(calls.clock, 2);
});

test('@Cached: a POST to the same path runs every time, and a handler saying no-store is not kept', async () => {
  for (const n of [1, 2, 3]) {
    const r = await fetch(`${base}/clock`, { method: 'POST', headers: { 'if-none-match': '*' } });
    assert.equal(r.status, 201);
    assert.deepEqual(await r.json(), { n });
    assert.equal(r.headers.get('etag'), null);
  }
  assert.equal(calls.bump, 3);

  for (const n of [1, 2]) {
    const r = await fetch(`${base}/clock/no-store`);
    assert.deepEqual(await r.json(), { n });
    assert.equal(r.headers.get('cache-control'), 'no-store', "the handler's own Cache-Control is left as it is");
    assert.ok(r.headers.get('etag'));
  }
  assert.equal(calls.noStore, 2);
});

test('@Upload + @UploadedFile: a multipart file reaches the handler in multer\'s shape, with the other fields', async () => {
  const bytes = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0x80, 0x7f]);
  const form = new FormData();
  form.append('title', 'Holiday');
  form.append('tags', 'sea');
  form.append('tags', 'sun');
  form.append('avatar', new Blob([bytes], { type: 'image/png' }), 'me.png');
  const r = await fetch(`${base}/files/avatar`, { method: 'POST', body: form });
  assert.equal(r.status, 201, await r.clone().text());
  assert.deepEqual(await r.json(), {
    file: { fieldname: 'avatar', originalname: 'me.png', mimetype: 'image/png', size: 12, hex: Buffer.from(bytes).toString('hex') },
    none: null,
    fields: { title: 'Holiday', tags: ['sea', 'sun'] },
  });

  // Exactly maxSize is taken.
  const edge = new FormData();
  edge.append('avatar', new Blob([new Uint8Array(1024).fill(7)], { type: 'application/pdf' }), 'doc.pdf');
  const ok = await fetch(`${base}/files/avatar`, { method: 'POST', body: edge });
  assert.equal(ok.status, 201);
  const got = (await ok.json()) as { file: { size: number; mimetype: string; hex: string } };
  assert.equal(got.file.size, 1024);
  assert.equal(got.file.mimetype, 'application/pdf');
  assert.equal(got.file.hex, '07'.repeat(1024));
});

test('@Upload: 413 for a file over maxSize, 415 for a media type not taken or a body that is not multipart, 400 for no file', async () => {
  const send = (parts: [string, Blob | string, string?][]) => {
    const form = new FormData();
    for (const [name, value, filename] of parts) {
      if (typeof value === 'string') form.append(name, value);
      else form.append(name, value, filename);
    }
    return fetch(`${base}/files/avatar`, { method: 'POST', body: form });
  };

  const big = await send([['avatar', new Blob([new Uint8Array(1025)], { type: 'image/png' }), 'big.png']]);
  assert.equal(big.status, 413);
  const p413 = await problem(big);
  assert.equal(p413.code, 'H004');
  assert.match(p413.detail, /big\.png.*1025 bytes.*1024/);

  const text = await send([['avatar', new Blob(['hello'], { type: 'text/plain' }), 'a.txt']]);
  assert.equal(text.status, 415);
  const p415 = await problem(text);
  assert.equal(p415.code, 'H013');
  assert.match(p415.detail, /text\/plain/);

  const json = await fetch(`${base}/files/avatar`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(json.status, 415);
  assert.equal((await problem(json)).code, 'H013');

  // A 400 names the field, as the schemas' failures do.
  const none = await send([['title', 'no file']]);
  assert.equal(none.status, 400);
  const noFile = await problem(none);
  assert.equal(noFile.code, 'H009');
  assert.deepEqual(noFile.errors?.map((e) => [e.in, e.path]), [['body', '/avatar']]);
  const elsewhere = await send([['photo', new Blob(['x'], { type: 'image/png' }), 'x.png']]);
  assert.equal(elsewhere.status, 400);
  const misplaced = await problem(elsewhere);
  assert.match(misplaced.detail, /'photo'.*'avatar'/);
  assert.deepEqual(misplaced.errors?.map((e) => [e.in, e.path]), [['body', '/photo']]);
});

test('@UploadedFiles: several files of one field, in order; maxSize as a size string', async () => {
  const form = new FormData();
  form.append('title', 'Trip');
  form.append('photos', new Blob(['first'], { type: 'image/jpeg' }), 'a.jpg');
  form.append('photos', new Blob([new Uint8Array(2048).fill(1)], { type: 'image/png' }), 'b.png');
  form.append('photos', new Blob(['third']), 'c.bin');
  const r = await fetch(`${base}/files/album`, { method: 'POST', body: form });
  assert.equal(r.status, 201, await r.clone().text());
  const got = (await r.json()) as { files: { fieldname: string; originalname: string; mimetype: string; size: number; hex: string }[]; title: string };
  assert.equal(got.title, 'Trip');
  assert.deepEqual(
    got.files.map((f) => [f.fieldname, f.originalname, f.mimetype, f.size]),
    [
      ['photos', 'a.jpg', 'image/jpeg', 5],
      ['photos', 'b.png', 'image/png', 2048],
      // A Blob without a type is sent as application/octet-stream.
      ['photos', 'c.bin', 'application/octet-stream', 5],
    ],
  );
  assert.equal(got.files[0].hex, Buffer.from('first').toString('hex'));

  // '2KB' is 2048 bytes: one more is a 413.
  const over = new FormData();
  over.append('photos', new Blob(['ok']), 'ok.txt');
  over.append('photos', new Blob([new Uint8Array(2049)]), 'over.bin');
  const big = await fetch(`${base}/files/album`, { method: 'POST', body: over });
  assert.equal(big.status, 413);
  assert.match((await problem(big)).detail, /over\.bin/);
});

test('@Paginated: defaults, page and limit from the query, {data, meta} and a Link header', async () => {
  const first = await fetch(`${base}/people`);
  assert.equal(first.status, 200);
  const doc = (await first.json()) as { data: { id: number }[]; meta: unknown };
  assert.deepEqual(doc.meta, { page: 1, limit: 10, total: 45, pages: 5 });
  assert.deepEqual(doc.data.map((p) => p.id), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(first.headers.get('link'), '</people?limit=10&page=1>; rel="first", </people?limit=10&page=2>; rel="next", </people?limit=10&page=5>; rel="last"');

  const second = await fetch(`${base}/people?q=ann+b&page=2&limit=20`);
  const page2 = (await second.json()) as { data: { id: number }[]; meta: unknown };
  assert.deepEqual(page2.meta, { page: 2, limit: 20, total: 45, pages: 3 });
  assert.deepEqual([page2.data[0].id, page2.data.length], [20, 20]);
  assert.equal(
    second.headers.get('link'),
    '</people?q=ann%20b&limit=20&page=1>; rel="first", </people?q=ann%20b&limit=20&page=1>; rel="prev", ' +
      '</people?q=ann%20b&limit=20&page=3>; rel="next", </people?q=ann%20b&limit=20&page=3>; rel="last"',
  );

  const last = await fetch(`${base}/people?page=3&limit=20`);
  const page3 = (await last.json()) as { data: { id: number }[] };
  assert.equal(page3.data.length, 5);
  assert.doesNotMatch(last.headers.get('link') ?? '', /rel="next"/);

  // An array answer: data and meta without total; no Link. The handler gets {page, limit, offset}.
  const plain = await fetch(`${base}/people/plain?page=4&limit=7`);
  assert.deepEqual(await plain.json(), { data: [{ page: 4, limit: 7, offset: 21 }, '7'], meta: { page: 4, limit: 7 } });
  assert.equal(plain.headers.get('link'), null);
  assert.deepEqual(await (await fetch(`${base}/people/plain`)).json(), { data: [{ page: 1, limit: 20, offset: 0 }, null], meta: { page: 1, limit: 20 } });

  // Another object is left as it is.
  assert.deepEqual(await (await fetch(`${base}/people/summary`)).json(), { count: 3 });
});

test('@Paginated: a page or limit out of range is a 400 naming the field', async () => {
  for (const [query, field] of [
    ['limit=26', 'limit'],
    ['limit=0', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=1.5', 'limit'],
    ['page=0', 'page'],
    ['page=-1', 'page'],
  ]) {
    const r = await fetch(`${base}/people?${query}`);
    assert.equal(r.status, 400, query);
    const p = await problem(r);
    assert.equal(p.code, 'H009', query);
    assert.match(p.detail, new RegExp(`\\b${field}\\b`), query);
    assert.deepEqual(
      p.errors?.map((e) => [e.in, e.path]),
      [['query', `/${field}`]],
      `${query}: ${JSON.stringify(p)}`,
    );
  }
  // Both wrong: both named.
  const both = await problem(await fetch(`${base}/people?page=x&limit=99`));
  assert.deepEqual(both.errors?.map((e) => e.path), ['/page', '/limit']);
  // 25 is the route's max: taken.
  assert.equal((await fetch(`${base}/people?limit=25`)).status, 200);
});

test("a JSON body over the app's bodyLimit is a 413; a body of another media type to a JSON body route is a 415", async () => {
  const fits = JSON.stringify({ text: 'x'.repeat(BODY_LIMIT - 20) });
  assert.ok(Buffer.byteLength(fits) <= BODY_LIMIT);
  const ok = await fetch(`${base}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: fits });
  assert.equal(ok.status, 201);

  const tooBig = JSON.stringify({ text: 'x'.repeat(BODY_LIMIT) });
  const big = await fetch(`${base}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: tooBig });
  assert.equal(big.status, 413);
  assert.equal((await problem(big)).code, 'H004');
  // The limit is the app's, on every route.
  const raw = await fetch(`${base}/notes/raw`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: tooBig });
  assert.equal(raw.status, 413);

  const text = await fetch(`${base}/notes`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
  assert.equal(text.status, 415);
  const p = await problem(text);
  assert.equal(p.code, 'H013');
  assert.match(p.detail, /application\/json.*text\/plain/);
  // A route whose body has no schema takes text as it comes.
  const plain = await fetch(`${base}/notes/raw`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
  assert.equal(plain.status, 201);
  assert.deepEqual(await plain.json(), { body: 'hello' });
});

test('in-process (Test.createApplication): 304, an upload, a page and a 415 through the same pipeline', async () => {
  const t = await Test.createApplication(AppModule, { http: { bodyLimit: BODY_LIMIT } });
  try {
    const before = calls.clock;
    const first = await t.request().get('/clock').query({ tz: 'in-process' }).expect(200).expect('cache-control', 'public, max-age=90');
    const etag = first.headers.etag;
    assert.ok(etag);
    await t.request().get('/clock').query({ tz: 'in-process' }).set('if-none-match', etag).expect(304).expect('etag', etag).expect((r) => assert.equal(r.text, ''));
    assert.equal(calls.clock, before + 1);

    const boundary = '----omnitron-node-test';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="avatar"; filename="dot.gif"\r\nContent-Type: image/gif\r\n\r\n`),
      Buffer.from([0x47, 0x49, 0x46, 0x00, 0xfe]),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const up = await t.request().post('/files/avatar').set('content-type', `multipart/form-data; boundary=${boundary}`).send(body).expect(201);
    assert.deepEqual(up.body.file, { fieldname: 'avatar', originalname: 'dot.gif', mimetype: 'image/gif', size: 5, hex: '47494600fe' });

    await t.request().get('/people').query({ page: 5 }).expect(200).expect('link', /rel="prev"/).expect((r) => assert.deepEqual(r.body.meta, { page: 5, limit: 10, total: 45, pages: 5 }));
    await t.request().get('/people').query({ limit: 100 }).expect(400);
    await t.request().post('/notes').send('plain words').expect(415);
  } finally {
    await t.close();
  }
});
