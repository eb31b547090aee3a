import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Container, createToken, Injectable, Inject, Optional, InjectAll, OmnitronError } from '@omnitron-dev/native';

class Config {
  url = 'db://local';
}

@Injectable()
class Repo {
  constructor(readonly config: Config) {}
}

@Injectable({ scope: 'transient' })
class Service {
  constructor(
    readonly config: Config,
    readonly repo: Repo,
  ) {}
}

test('class providers get constructor dependencies by parameter type', () => {
  const c = new Container();
  c.register(Config, { useValue: new Config() });
  c.register(Repo);
  c.register(Service);
  const s = c.resolve(Service);
  assert.equal(s.repo.config.url, 'db://local');
  assert.equal(s.config, s.repo.config);
  const s2 = c.resolve(Service);
  assert.notEqual(s, s2, 'transient gives a new instance');
  assert.equal(s.repo, s2.repo, 'the singleton repo is shared');
});

test('a singleton factory runs once', () => {
  let calls = 0;
  const T = createToken<number>('Counter');
  const c = new Container();
  c.register(T, { useFactory: () => ++calls });
  assert.equal(c.resolve(T), 1);
  assert.equal(c.resolve(T), 1);
  assert.equal(calls, 1);
});

test('factories get their inject list, with optional entries', () => {
  const Url = createToken<string>('Url');
  const Cache = createToken<string>('Cache');
  const Client = createToken<{ url: string; cache?: string }>('Client');
  const c = new Container();
  c.register(Url, { useValue: 'pg://x' });
  c.register(Client, { useFactory: (url: string, cache?: string) => ({ url, cache }), inject: [Url, { token: Cache, optional: true }] });
  assert.deepEqual(c.resolve(Client), { url: 'pg://x', cache: undefined });
});

test('aliases give the same instance, through chains', () => {
  const Real = createToken<object>('Real');
  const A = createToken<object>('Alias');
  const B = createToken<object>('Alias2');
  const c = new Container();
  c.register(Real, { useFactory: () => ({}) });
  c.register(A, { useExisting: Real });
  c.register(B, { useToken: A });
  assert.equal(c.resolve(A), c.resolve(Real));
  assert.equal(c.resolve(B), c.resolve(Real));
});

test('multi providers resolve in registration order and inject as arrays', () => {
  const Plugins = createToken<string>('Plugins');
  const c = new Container();
  for (const p of ['first', 'second', 'third']) c.register(Plugins, { useValue: p }, { multi: true });
  assert.deepEqual(c.resolveAll(Plugins), ['first', 'second', 'third']);
  assert.deepEqual(c.resolveMany(Plugins), ['first', 'second', 'third']);
  assert.equal(c.resolve(Plugins), 'first');
  assert.deepEqual(c.resolveAll(createToken('None')), []);

  @Injectable()
  class Host {
    constructor(@InjectAll(Plugins) readonly plugins: string[]) {}
  }
  c.register(Host);
  assert.deepEqual(c.resolve(Host).plugins, ['first', 'second', 'third']);
});

test('@Optional gives undefined when nothing provides it', () => {
  const Cache = createToken<string>('Cache');
  @Injectable()
  class UsesCache {
    constructor(@Optional() @Inject(Cache) readonly cache?: string) {}
  }
  const c = new Container();
  c.register(UsesCache);
  assert.equal(c.resolve(UsesCache).cache, undefined);
  assert.equal(c.resolveOptional(Cache), undefined);
});

test('property injection with @Inject', () => {
  const Name = createToken<string>('Name');
  @Injectable()
  class Greeter {
    @Inject(Name) name!: string;
    greet() {
      return `hello ${this.name}`;
    }
  }
  const c = new Container();
  c.register(Name, { useValue: 'ada' });
  c.register(Greeter);
  assert.equal(c.resolve(Greeter).greet(), 'hello ada');
});

test('duplicate registration needs override, and a failed one changes nothing', () => {
  const Port = createToken<number>('Port');
  const c = new Container();
  c.register(Port, { useValue: 80 });
  assert.throws(
    () => c.register(Port, { useValue: 81 }),
    (e: unknown) => e instanceof OmnitronError && e.code === 'DI003' && /override: true/.test(e.message),
  );
  assert.equal(c.resolve(Port), 80);
  c.register(Port, { useValue: 8080 }, { override: true });
  assert.equal(c.resolve(Port), 8080);
});

test('async factories need resolveAsync; once built they resolve synchronously', async () => {
  const Conn = createToken<string>('Conn');
  const Len = createToken<number>('UsesConn');
  const c = new Container();
  c.register(Conn, {
    useFactory: async () => {
      await new Promise((r) => setTimeout(r, 1));
      return 'connected';
    },
  });
  c.register(Len, { useFactory: (conn: string) => conn.length, inject: [Conn] });
  assert.throws(() => c.resolve(Conn), (e: any) => e.code === 'DI005' && /resolveAsync/.test(e.message));
  assert.throws(() => c.resolve(Len), (e: any) => e.code === 'DI005' && /depends on async provider 'Conn'/.test(e.message));
  assert.equal(await c.resolveAsync(Len), 9);
  assert.equal(c.resolve(Conn), 'connected');
});

test('concurrent resolveAsync runs an async singleton factory once', async () => {
  let calls = 0;
  const Db = createToken<number>('Db');
  const c = new Container();
  c.register(Db, {
    useFactory: async () => {
      await new Promise((r) => setTimeout(r, 5));
      return ++calls;
    },
  });
  const all = await Promise.all([c.resolveAsync(Db), c.resolveAsync(Db), c.resolveAsync(Db)]);
  assert.deepEqual(all, [1, 1, 1]);
  assert.equal(calls, 1);
});

test('a factory error is DI011 naming the token, with the factory error as its cause', () => {
  const Broken = createToken('Broken');
  const c = new Container();
  const cause = new Error('disk on fire');
  c.register(Broken, {
    useFactory: () => {
      throw cause;
    },
  });
  assert.throws(
    () => c.resolve(Broken),
    (e: any) => e.code === 'DI011' && e.name === 'FactoryError' && e.cause === cause && /the factory of 'Broken' failed: disk on fire/.test(e.message),
  );
});

test('two tokens with the same name are different tokens; strings are their own identity', () => {
  const a = createToken<number>('Config');
  const b = createToken<number>('Config');
  const c = new Container();
  c.register(a, { useValue: 1 });
  c.register(b, { useValue: 2 });
  c.register('CONFIG', { useValue: 3 });
  assert.equal(c.resolve(a), 1);
  assert.equal(c.resolve(b), 2);
  assert.equal(c.resolve('CONFIG'), 3);
  assert.equal(c.resolve(['CON', 'FIG'].join('')), 3);
});

test('has() and exportGraph()', () => {
  const c = new Container();
  c.register(Config, { useValue: new Config() });
  c.register(Repo);
  assert.equal(c.has(Repo), true);
  assert.equal(c.has(Service), false);
  const g = c.exportGraph('json');
  assert.equal(g.nodes.length, 2);
  assert.equal(g.edges.length, 1);
  assert.match(c.exportGraph('mermaid'), /^graph TD/);
  assert.throws(() => c.exportGraph('svg' as any), (e: any) => e.code === 'E001');
});
