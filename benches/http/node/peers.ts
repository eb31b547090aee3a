// The Node servers a user would otherwise pick, each serving the benchmark's two routes:
//   GET  /users/:id  -> {"id": "<id>", "name": "Ada Lovelace", "active": true}
//   POST /users      -> the body {name, email, age} checked (name 1..100 chars, email, age 0..150
//                       integer), answered 201 with an id added; 400 when it is not valid.
// `node dist/peers.js <node-http|fastify|nest|express> <port>`; one process, no cluster.

import 'reflect-metadata';
import * as http from 'node:http';

const [kind, portArg] = process.argv.slice(2);
const port = Number(portArg);

const user = (id: string) => ({ id, name: 'Ada Lovelace', active: true });
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

async function nodeHttp(): Promise<void> {
  // node:http with no framework: the floor. The POST is parsed but checked by hand.
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (req.method === 'GET' && url.startsWith('/users/')) {
      const body = JSON.stringify(user(url.slice(7)));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (req.method === 'POST' && url === '/users') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let v: { name?: unknown; email?: unknown; age?: unknown };
        try {
          v = JSON.parse(Buffer.concat(chunks).toString());
        } catch {
          res.writeHead(400).end();
          return;
        }
        const ok =
          typeof v.name === 'string' && v.name.length >= 1 && v.name.length <= 100 &&
          typeof v.email === 'string' && EMAIL.test(v.email) &&
          Number.isInteger(v.age) && (v.age as number) >= 0 && (v.age as number) <= 150;
        if (!ok) {
          res.writeHead(400).end();
          return;
        }
        const body = JSON.stringify({ ...v, id: 1 });
        res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
      return;
    }
    res.writeHead(404).end();
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, '127.0.0.1');
}

async function fastify(): Promise<void> {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  app.get('/users/:id', async (req) => user((req.params as { id: string }).id));
  app.post(
    '/users',
    {
      schema: {
        body: {
          type: 'object',
          required: ['name', 'email', 'age'],
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 100 },
            email: { type: 'string', format: 'email' },
            age: { type: 'integer', minimum: 0, maximum: 150 },
          },
        },
      },
    },
    async (req, reply) => {
      reply.code(201);
      return { ...(req.body as object), id: 1 };
    },
  );
  await app.listen({ port, host: '127.0.0.1' });
}

async function nest(): Promise<void> {
  const common = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const { FastifyAdapter } = await import('@nestjs/platform-fastify');
  const cv = await import('class-validator');
  const { Body, Controller, Get, HttpCode, Module, Param, Post, ValidationPipe } = common;

  class CreateUserDto {
    @cv.IsString() @cv.Length(1, 100) name!: string;
    @cv.IsEmail() email!: string;
    @cv.IsInt() @cv.Min(0) @cv.Max(150) age!: number;
  }

  @Controller('users')
  class UsersController {
    @Get(':id')
    findOne(@Param('id') id: string) {
      return user(id);
    }

    @Post()
    @HttpCode(201)
    create(@Body() dto: CreateUserDto) {
      return { ...dto, id: 1 };
    }
  }

  @Module({ controllers: [UsersController] })
  class AppModule {}

  const app = await NestFactory.create(AppModule, new FastifyAdapter(), { logger: false });
  app.useGlobalPipes(new ValidationPipe());
  await app.listen(port, '127.0.0.1');
}

async function express(): Promise<void> {
  const { default: Express } = await import('express');
  const app = Express();
  app.disable('x-powered-by');
  app.use(Express.json());
  app.get('/users/:id', (req, res) => {
    res.json(user(req.params.id));
  });
  app.post('/users', (req, res) => {
    const v = req.body as { name?: unknown; email?: unknown; age?: unknown };
    const ok =
      typeof v.name === 'string' && v.name.length >= 1 && v.name.length <= 100 &&
      typeof v.email === 'string' && EMAIL.test(v.email) &&
      Number.isInteger(v.age) && (v.age as number) >= 0 && (v.age as number) <= 150;
    if (!ok) {
      res.status(400).end();
      return;
    }
    res.status(201).json({ ...v, id: 1 });
  });
  app.listen(port, '127.0.0.1');
}

const servers: Record<string, () => Promise<void>> = { 'node-http': nodeHttp, fastify, nest, express };
const start = servers[kind];
if (!start) {
  console.error(`unknown server '${kind}'; one of ${Object.keys(servers).join(', ')}`);
  process.exit(2);
}
start().catch((e) => {
  console.error(e);
  process.exit(1);
});
