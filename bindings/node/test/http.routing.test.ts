// Controllers served over a real socket (Node's fetch) and in-process (app.request()): params,
// query, bodies, headers, status defaults and constructor injection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  HttpResponse,
  Injectable,
  Module,
  Omnitron,
  Param,
  Patch,
  Post,
  Put,
  Query,
  Req,
  ResponseStatus,
  type HttpRequest,
  type OmnitronApp,
} from '@omnitron-dev/native';

interface User {
  id: number;
  name: string;
}

@Injectable()
class UsersService {
  readonly users = new Map<number, User>([[1, { id: 1, name: 'ada' }]]);
  #next = 2;

  create(name: string): User {
    const u = { id: this.#next++, name };
    this.users.set(u.id, u);
    return u;
  }
}

@Controller('users')
class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get()
  list(@Query('prefix') prefix?: string) {
    return [...this.users.users.values()].filter((u) => prefix === undefined || u.name.startsWith(prefix));
  }

  @Get(':id')
  async one(@Param('id') id: string) {
    return this.users.users.get(Number(id)) ?? null;
  }

  @Post()
  create(@Body('name') name: string) {
    return this.users.create(name);
  }

  @Put(':id')
  @ResponseStatus(202)
  replace(@Param() params: Record<string, string>, @Body() body: { name: string }) {
    return { replaced: params.id, with: body.name };
  }

  @Patch(':id')
  @HttpCode(200)
  rename(@Param('id') id: string, @Headers('X-Who') who: string) {
    return new HttpResponse({ id, by: who }, { headers: { 'x-renamed': id } });
  }

  @Delete(':id')
  remove(@Param('id') id: string): void {
    this.users.users.delete(Number(id));
  }
}

@Controller()
class RootController {
  @Get('echo/:a/:b')
  echo(@Req() req: HttpRequest) {
    return { method: req.method, path: req.path, params: req.params, query: req.query, id: req.requestId.length > 0 };
  }

  @Get('text')
  text() {
    return 'plain words';
  }
}

@Module({ controllers: [UsersController, RootController], providers: [UsersService] })
class AppModule {}

let app: OmnitronApp;
let base: string;

before(async () => {
  app = await Omnitron.create(AppModule);
  const port = await app.listen(0, '127.0.0.1');
  base = `http://127.0.0.1:${port}`;
});

after(() => app.close());

test('GET with params and query over a socket', async () => {
  const r = await fetch(`${base}/users/1`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /application\/json/);
  assert.deepEqual(await r.json(), { id: 1, name: 'ada' });
  const list = await fetch(`${base}/users?prefix=a`);
  assert.deepEqual(await list.json(), [{ id: 1, name: 'ada' }]);
  const echo = await (await fetch(`${base}/echo/x%20y/2?q=1&r=two`, { headers: { 'x-request-id': 'req-1' } })).json();
  assert.deepEqual(echo, { method: 'GET', path: '/echo/x%20y/2', params: { a: 'x y', b: '2' }, query: { q: '1', r: 'two' }, id: true });
});

test('status defaults: 201 for POST, 204 for nothing, @ResponseStatus and @HttpCode', async () => {
  const created = await fetch(`${base}/users`, { method: 'POST', body: JSON.stringify({ name: 'bob' }), headers: { 'content-type': 'application/json' } });
  assert.equal(created.status, 201);
  const bob = (await created.json()) as User;
  assert.equal(bob.name, 'bob');
  const put = await fetch(`${base}/users/${bob.id}`, { method: 'PUT', body: JSON.stringify({ name: 'rob' }), headers: { 'content-type': 'application/json' } });
  assert.equal(put.status, 202);
  assert.deepEqual(await put.json(), { replaced: String(bob.id), with: 'rob' });
  const patch = await fetch(`${base}/users/${bob.id}`, { method: 'PATCH', headers: { 'x-who': 'eve' } });
  assert.equal(patch.status, 200);
  assert.equal(patch.headers.get('x-renamed'), String(bob.id));
  assert.deepEqual(await patch.json(), { id: String(bob.id), by: 'eve' });
  const del = await fetch(`${base}/users/${bob.id}`, { method: 'DELETE' });
  assert.equal(del.status, 204);
  assert.equal(await del.text(), '');
  assert.deepEqual(await (await fetch(`${base}/users/${bob.id}`)).json(), null);
});

test('a string is text', async () => {
  const r = await fetch(`${base}/text`);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
  assert.equal(await r.text(), 'plain words');
});

test('the same routes in-process', async () => {
  await app.request().get('/users/1').expect(200, { id: 1, name: 'ada' });
  const r = await app.request().post('/users').send({ name: 'cy' }).expect(201);
  assert.equal(r.body.name, 'cy');
  await app.request().delete(`/users/${r.body.id}`).expect(204);
  await app.request().get('/echo/1/2').query({ q: 'a b' }).expect((res) => assert.deepEqual(res.body.query, { q: 'a b' }));
  await app.request().patch('/users/9').set('x-who', 'me').expect('x-renamed', '9').expect(200, { id: '9', by: 'me' });
});

test('many requests at once are answered in batches, each its own', async () => {
  const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => fetch(`${base}/echo/${i}/x`).then((r) => r.json() as Promise<{ params: { a: string } }>)));
  rs.forEach((r, i) => assert.equal(r.params.a, String(i)));
});
