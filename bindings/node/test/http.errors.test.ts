// Errors as problem documents: a throwing handler is a 500 (H005) and the server goes on serving;
// HttpException and its NestJS subclasses keep their status; engine errors get core's status;
// unknown routes and methods are 404 and 405.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConflictException,
  Controller,
  ForbiddenException,
  Get,
  HttpException,
  Module,
  NotFoundException,
  Omnitron,
  Post,
  RateLimitedError,
  type OmnitronApp,
} from '@omnitron-dev/native';

@Controller('e')
class FailingController {
  @Get('sync')
  sync(): never {
    throw new Error('secret detail');
  }

  @Get('async')
  async rejects(): Promise<never> {
    await new Promise((r) => setTimeout(r, 1));
    throw new TypeError('also secret');
  }

  @Get('missing')
  missing(): never {
    throw new NotFoundException('no such thing');
  }

  @Get('teapot')
  teapot(): never {
    throw new HttpException(418, "I'm a teapot");
  }

  @Get('nest-order')
  nestOrder(): never {
    throw new HttpException({ message: 'taken', field: 'email' }, 409);
  }

  @Get('forbidden')
  forbidden(): never {
    throw new ForbiddenException();
  }

  @Get('conflict')
  conflict(): never {
    throw new ConflictException('version mismatch');
  }

  @Get('status-carrying')
  carrying(): never {
    throw Object.assign(new Error('gone'), { statusCode: 410 });
  }

  @Get('engine')
  engine(): never {
    throw new RateLimitedError('slow down');
  }

  @Get('cycle')
  cycle() {
    const o: Record<string, unknown> = {};
    o.self = o;
    return o;
  }

  @Post('ok')
  ok() {
    return { fine: true };
  }
}

@Module({ controllers: [FailingController] })
class AppModule {}

const logged: [unknown, string][] = [];
let app: OmnitronApp;
let base: string;

before(async () => {
  app = await Omnitron.create(AppModule, { onHttpError: (e, route) => logged.push([e, route]) });
  base = `http://127.0.0.1:${await app.listen(0, '127.0.0.1')}`;
});

after(() => app.close());

async function problem(path: string, init?: RequestInit): Promise<{ status: number; type: string; doc: Record<string, unknown> }> {
  const r = await fetch(`${base}${path}`, init);
  return { status: r.status, type: r.headers.get('content-type') ?? '', doc: (await r.json()) as Record<string, unknown> };
}

test('a throwing handler is a 500 problem that does not show the error, and the server goes on', async () => {
  for (const path of ['/e/sync', '/e/async', '/e/cycle']) {
    const { status, type, doc } = await problem(path);
    assert.equal(status, 500, path);
    assert.equal(type, 'application/problem+json');
    assert.equal(doc.code, 'H005');
    assert.equal(doc.instance, path);
    assert.doesNotMatch(JSON.stringify(doc), /secret/);
    assert.match(String(doc.detail), /FailingController\.\w+ failed/);
  }
  // Each failure reached the hook with its route; an answer JSON cannot write is one too.
  assert.deepEqual(
    logged.map(([e, route]) => [(e as Error).constructor.name, route]),
    [
      ['Error', 'FailingController.sync'],
      ['TypeError', 'FailingController.rejects'],
      ['TypeError', 'FailingController.cycle'],
    ],
  );
  assert.equal((logged[0][0] as Error).message, 'secret detail');
  const r = await fetch(`${base}/e/ok`, { method: 'POST' });
  assert.equal(r.status, 201);
  assert.deepEqual(await r.json(), { fine: true });
});

test('HttpException and the NestJS classes keep their status and message', async () => {
  const cases: [string, number, string][] = [
    ['/e/missing', 404, 'no such thing'],
    ['/e/teapot', 418, "I'm a teapot"],
    ['/e/nest-order', 409, 'taken'],
    ['/e/forbidden', 403, 'Forbidden'],
    ['/e/conflict', 409, 'version mismatch'],
    ['/e/status-carrying', 410, 'gone'],
  ];
  for (const [path, status, detail] of cases) {
    const p = await problem(path);
    assert.equal(p.status, status, path);
    assert.equal(p.doc.detail, detail, path);
    assert.equal(p.doc.status, status, path);
  }
  assert.equal((await problem('/e/nest-order')).doc.field, 'email');
});

test('an engine error gets the status core gives its code', async () => {
  const p = await problem('/e/engine');
  assert.equal(p.status, 429);
  assert.equal(p.doc.code, 'R002');
});

test('unknown routes are 404 (H002), unknown methods 405 (H003) with Allow', async () => {
  const nf = await problem('/nope');
  assert.equal(nf.status, 404);
  assert.equal(nf.doc.code, 'H002');
  const r = await fetch(`${base}/e/ok`);
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'POST');
  assert.equal(((await r.json()) as { code: string }).code, 'H003');
  await app.request().get('/nope').expect(404);
  await app.request().delete('/e/sync').expect(405);
});

test('HttpException refuses a status that is not one', () => {
  assert.throws(() => new HttpException(42, 'x'), /from 100 to 599/);
  assert.equal(new NotFoundException().getStatus(), 404);
  assert.equal(new HttpException('x', 400).getResponse(), 'x');
});
