// Spec 2.5's UsersController as the spec writes it (class-level @ApiTag and @RequireAuth; @Paginated
// with @Cached and @Query() of a DTO; @Validate(IdParam) on a GET; @Validate(CreateUserDto) with
// @ResponseStatus(201); @Upload({ maxSize: '5MB', mimeTypes: ['image/*'] }) with @UploadedFile()),
// served over a real socket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  ApiOperation,
  ApiTag,
  Body,
  Cached,
  Controller,
  Get,
  Injectable,
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
  Paginated,
  Param,
  Post,
  Query,
  RequireAuth,
  ResponseStatus,
  Upload,
  UploadedFile,
  Validate,
  type OmnitronApp,
  type UploadedFileInfo,
} from '@omnitron-dev/native';

const SECRET = 'a-test-secret-of-at-least-32-bytes!!';
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
function token(sub: string): string {
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, exp: Math.floor(Date.now() / 1000) + 600 })}`;
  return `${head}.${createHmac('sha256', SECRET).update(head).digest('base64url')}`;
}

class ListUsersDto {
  @IsOptional() @IsString() search?: string;
}

class IdParam {
  @IsUUID() id!: string;
}

class CreateUserDto {
  @IsString() @Length(1, 100) name!: string;
  @IsEmail() email!: string;
  @IsInt() @Min(0) @Max(150) age!: number;
}

const ID = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';

@Injectable()
class UsersService {
  listed = 0;
  findAll(query: ListUsersDto) {
    this.listed += 1;
    return { items: [{ id: ID, name: 'Ada' }], total: 1, search: query.search ?? null };
  }
  findOne(id: string) {
    return { id, name: 'Ada' };
  }
  create(dto: CreateUserDto) {
    return { id: ID, ...dto };
  }
  updateAvatar(id: string, file: UploadedFileInfo) {
    return { id, file: file.originalname, type: file.mimetype, size: file.size };
  }
}

@Controller('users')
@ApiTag('Users')
@RequireAuth()
class UsersController {
  constructor(private readonly usersService: UsersService) {}

  @Get()
  @ApiOperation({ summary: 'List all users' })
  @Paginated()
  @Cached({ ttl: 60 })
  async findAll(@Query() query: ListUsersDto) {
    return this.usersService.findAll(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get user by ID' })
  @Validate(IdParam)
  async findOne(@Param('id') id: string) {
    return this.usersService.findOne(id);
  }

  @Post()
  @ApiOperation({ summary: 'Create new user' })
  @Validate(CreateUserDto)
  @ResponseStatus(201)
  async create(@Body() createUserDto: CreateUserDto) {
    return this.usersService.create(createUserDto);
  }

  @Post(':id/avatar')
  @Upload({ maxSize: '5MB', mimeTypes: ['image/*'] })
  async uploadAvatar(@Param('id') id: string, @UploadedFile() file: UploadedFileInfo) {
    return this.usersService.updateAvatar(id, file);
  }
}

@Module({ controllers: [UsersController], providers: [UsersService] })
class UsersModule {}

let app: OmnitronApp;
let base: string;
const auth = { authorization: `Bearer ${token('u1')}` };

before(async () => {
  app = await Omnitron.create(UsersModule, { http: { jwt: { secret: SECRET } } });
  base = `http://127.0.0.1:${await app.listen(0, '127.0.0.1')}`;
});

after(() => app.close());

test('spec 2.5: every route requires auth (class-level @RequireAuth)', async () => {
  for (const [method, path] of [['GET', '/users'], ['GET', `/users/${ID}`], ['POST', '/users']]) {
    assert.equal((await fetch(`${base}${path}`, { method })).status, 401, `${method} ${path}`);
  }
});

test('spec 2.5: findAll is paginated and cached, per user', async () => {
  const r = await fetch(`${base}/users?page=1&limit=10&search=ad`, { headers: auth });
  assert.equal(r.status, 200);
  const body = (await r.json()) as { data: unknown[]; meta: { page: number; limit: number; total: number } };
  assert.equal(body.data.length, 1);
  assert.deepEqual([body.meta.page, body.meta.limit, body.meta.total], [1, 10, 1]);
  const etag = r.headers.get('etag');
  assert.ok(etag, 'a cached answer has an ETag');
  const again = await fetch(`${base}/users?page=1&limit=10&search=ad`, { headers: { ...auth, 'if-none-match': etag } });
  assert.equal(again.status, 304);
  assert.equal(app.get(UsersService).listed, 1, 'the second answer came from the cache');
});

test('spec 2.5: findOne validates its id (@Validate(IdParam))', async () => {
  const ok = await fetch(`${base}/users/${ID}`, { headers: auth });
  assert.deepEqual(await ok.json(), { id: ID, name: 'Ada' });
  const bad = await fetch(`${base}/users/not-a-uuid`, { headers: auth });
  assert.equal(bad.status, 400);
  const problem = (await bad.json()) as { code: string; errors: { in: string; path: string }[] };
  assert.equal(problem.code, 'H009');
  assert.deepEqual(problem.errors.map((e) => [e.in, e.path]), [['params', '/id']]);
});

test('spec 2.5: create validates its body and answers 201', async () => {
  const post = (body: unknown) =>
    fetch(`${base}/users`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const r = await post({ name: 'Ada', email: 'ada@example.com', age: 36 });
  assert.equal(r.status, 201);
  assert.deepEqual(await r.json(), { id: ID, name: 'Ada', email: 'ada@example.com', age: 36 });
  const bad = await post({ name: '', email: 'nope', age: 200 });
  assert.equal(bad.status, 400);
  const paths = ((await bad.json()) as { errors: { path: string }[] }).errors.map((e) => e.path).sort();
  assert.deepEqual(paths, ['/age', '/email', '/name']);
});

test("spec 2.5: uploadAvatar takes an image up to 5MB ('image/*')", async () => {
  const send = (type: string, bytes: number) => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(bytes)], { type }), 'me.png');
    return fetch(`${base}/users/${ID}/avatar`, { method: 'POST', headers: auth, body: form });
  };
  const r = await send('image/png', 1024);
  assert.equal(r.status, 201);
  assert.deepEqual(await r.json(), { id: ID, file: 'me.png', type: 'image/png', size: 1024 });
  assert.equal((await send('text/plain', 10)).status, 415);
  assert.equal((await send('image/png', 5 * 1024 * 1024 + 1)).status, 413);
});
