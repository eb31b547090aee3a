// @RequireAuth / @RequireRoles / @RequirePermissions (401 vs 403), @CurrentUser, @AuditLog records
// handed to onAudit, @RateLimit on a route, and SecurityModule.forRoot's helmet and rate limit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  AuditLog,
  Controller,
  CurrentUser,
  Delete,
  Get,
  Module,
  Omnitron,
  Param,
  RateLimit,
  RequireAuth,
  RequirePermissions,
  RequireRoles,
  SecurityModule,
  type AuditRecord,
  type OmnitronApp,
} from '@omnitron-dev/native';

const SECRET = 'a-test-secret-of-at-least-32-bytes!!';
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** An HS256 token for `claims`, valid for a minute. */
function token(claims: Record<string, unknown>): string {
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ exp: Math.floor(Date.now() / 1000) + 60, ...claims })}`;
  return `${head}.${createHmac('sha256', SECRET).update(head).digest('base64url')}`;
}

@Controller('admin')
@RequireAuth()
@RequireRoles('admin')
class AdminController {
  @Get('users')
  @RequirePermissions('users:read')
  getUsers(@CurrentUser() user: { sub: string }) {
    return { by: user.sub };
  }

  @Delete('users/:id')
  @RequirePermissions('users:delete')
  @AuditLog({ action: 'DELETE_USER' })
  deleteUser(@Param('id') _id: string): void {}
}

@Controller('public')
class PublicController {
  @Get('limited')
  @RateLimit({ max: 1, window: 60_000 })
  limited() {
    return 'once';
  }
}

@Module({ controllers: [AdminController, PublicController] })
class AppModule {}

const audits: AuditRecord[] = [];
let app: OmnitronApp;

before(async () => {
  app = await Omnitron.create(AppModule, { http: { jwt: { secret: SECRET } }, onAudit: (r) => audits.push(r) });
});

after(() => app.close());

test('no token is 401, a token without the role or permission 403, the right one reaches the handler', async () => {
  await app.request().get('/admin/users').expect(401).expect('www-authenticate', /Bearer/);
  await app.request().get('/admin/users').set('authorization', `Bearer ${token({ sub: 'u1', roles: ['user'], permissions: ['users:read'] })}`).expect(403);
  await app.request().get('/admin/users').set('authorization', `Bearer ${token({ sub: 'u1', roles: ['admin'] })}`).expect(403);
  const ok = token({ sub: 'ada', roles: ['admin'], permissions: ['users:read'] });
  await app.request().get('/admin/users').set('authorization', `Bearer ${ok}`).expect(200, { by: 'ada' });
  const forged = ok.slice(0, -2) + (ok.endsWith('AA') ? 'BB' : 'AA');
  await app.request().get('/admin/users').set('authorization', `Bearer ${forged}`).expect(401);
});

test('@AuditLog records who did what, and how it ended', async () => {
  const t = token({ sub: 'ada', roles: ['admin'], permissions: ['users:delete'] });
  await app.request().delete('/admin/users/7').set('authorization', `Bearer ${t}`).expect(204);
  await app.request().delete('/admin/users/8').expect(401);
  // A record is queued before its in-process answer, through the same queue: it is there already.
  assert.deepEqual(
    audits.map((a) => [a.action, a.actor, a.method, a.params, a.status, a.outcome]),
    [
      ['DELETE_USER', 'ada', 'DELETE', { id: '7' }, 204, 'success'],
      ['DELETE_USER', null, 'DELETE', { id: '8' }, 401, 'failure'],
    ],
  );
  assert.equal(audits[0].route, '/admin/users/:id');
});

test('@RateLimit({ max, window }) on a route is a 429 with Retry-After', async () => {
  await app.request().get('/public/limited').expect(200, 'once');
  const r = await app.request().get('/public/limited').expect(429);
  assert.equal(r.body.code, 'H012');
  assert.ok(Number(r.headers['retry-after']) > 0);
});

test("SecurityModule.forRoot: helmet's headers, and a limit on every route", async () => {
  @Controller()
  class Open {
    @Get('x')
    x() {
      return 1;
    }
  }
  @Module({ imports: [SecurityModule.forRoot({ helmet: true, rateLimit: { windowMs: 60_000, max: 2 } })], controllers: [Open] })
  class Secured {}
  const secured = await Omnitron.create(Secured);
  try {
    const base = `http://127.0.0.1:${await secured.listen(0, '127.0.0.1')}`;
    const first = await fetch(`${base}/x`);
    assert.equal(first.headers.get('x-content-type-options'), 'nosniff');
    await fetch(`${base}/x`);
    assert.equal((await fetch(`${base}/x`)).status, 429);
  } finally {
    await secured.close();
  }
  @Module({ imports: [SecurityModule.forRoot({ helmet: false })], controllers: [Open] })
  class Bare {}
  const bare = await Omnitron.create(Bare);
  try {
    const r = await bare.request().get('/x').expect(200);
    assert.equal(r.headers['x-content-type-options'], undefined);
  } finally {
    await bare.close();
  }
});
