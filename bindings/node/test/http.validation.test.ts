// Requests checked by core against the schemas of class-validator-style DTOs: a 400 (H009) listing
// every failing field, and coerced values for the handler.
//
// Core's validation stage comes with the http-validate work; on a build without it the invalid
// requests would be served; these tests fail if that happens.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  Body,
  Controller,
  Get,
  IsEmail,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Max,
  Min,
  Module,
  Omnitron,
  Param,
  Post,
  Query,
  Validate,
  ValidateQuery,
  type OmnitronApp,
} from '@omnitron-dev/native';

class CreateUserDto {
  @IsEmail() email!: string;
  @IsString() @Length(2, 20) name!: string;
  @IsOptional() @IsInt() @Min(0) @Max(150) age?: number;
}

class IdParam {
  @IsUUID() id!: string;
}

class ListQuery {
  @IsOptional() @IsInt() @Min(1) page?: number;
}

@Controller('users')
class UsersController {
  @Post()
  create(@Body() dto: CreateUserDto) {
    return dto;
  }

  @Get(':id')
  @Validate(IdParam)
  one(@Param('id') id: string) {
    return { id };
  }

  @Get()
  @ValidateQuery(ListQuery)
  list(@Query('page') page: unknown) {
    return { page, type: typeof page };
  }
}

@Module({ controllers: [UsersController] })
class AppModule {}

let app: OmnitronApp;
let base: string;

before(async () => {
  app = await Omnitron.create(AppModule);
  base = `http://127.0.0.1:${await app.listen(0, '127.0.0.1')}`;
});

after(() => app.close());

/** Core validates before the handler: an invalid request that was served is a failure. */
function unvalidated(_t: TestContext, status: number): boolean {
  assert.ok(status < 200 || status >= 300, `core's validation stage served an invalid request (status ${status})`);
  return false;
}

test('an invalid body is a 400 listing every failing field', async (t) => {
  const r = await fetch(`${base}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'not-an-email', name: 'x', age: -1 }),
  });
  if (unvalidated(t, r.status)) return;
  assert.equal(r.status, 400);
  assert.equal(r.headers.get('content-type'), 'application/problem+json');
  const doc = (await r.json()) as Record<string, unknown>;
  assert.equal(doc.code, 'H009');
  const text = JSON.stringify(doc);
  for (const field of ['email', 'name', 'age']) assert.match(text, new RegExp(field), `${field} is listed: ${text}`);
  const ok = await app.request().post('/users').send({ email: 'a@b.example', name: 'ada', age: 36 }).expect(201);
  assert.deepEqual(ok.body, { email: 'a@b.example', name: 'ada', age: 36 });
});

test('@Validate(IdParam) checks the path parameters on a GET', async (t) => {
  const bad = await app.request().get('/users/42');
  if (unvalidated(t, bad.status)) return;
  assert.equal(bad.status, 400);
  assert.match(bad.text, /id/);
  await app.request().get('/users/0f8fad5b-d9cb-469f-a165-70867728950e').expect(200);
});

test('@ValidateQuery coerces the query to its types', async (t) => {
  const bad = await app.request().get('/users').query({ page: 'abc' });
  if (unvalidated(t, bad.status)) return;
  assert.equal(bad.status, 400);
  await app.request().get('/users').query({ page: '2' }).expect(200, { page: 2, type: 'number' });
});
