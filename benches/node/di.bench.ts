// DI resolve cost through @omnitron-dev/native, side by side with inversify and tsyringe, in one run.
// Two cases, as in issue 2: resolving a singleton, and resolving a transient class with two
// (singleton) dependencies. Prints ns/op per library and Omnitron's ratio to each peer.
import 'reflect-metadata';
import * as inv from 'inversify';
import * as tsy from 'tsyringe';
import * as omni from '@omnitron-dev/native';
import { report, run } from './harness.js';

// ---- Omnitron -----------------------------------------------------------------------------------
@omni.Injectable()
class OConfig {
  readonly url = 'db://bench';
}
@omni.Injectable()
class ORepo {
  constructor(readonly config: OConfig) {}
}
@omni.Injectable({ scope: 'transient' })
class OService {
  constructor(
    readonly config: OConfig,
    readonly repo: ORepo,
  ) {}
}
const oc = new omni.Container();
oc.register(OConfig);
oc.register(ORepo);
oc.register(OService);

// ---- inversify ----------------------------------------------------------------------------------
@inv.injectable()
class IConfig {
  readonly url = 'db://bench';
}
@inv.injectable()
class IRepo {
  constructor(@inv.inject(IConfig) readonly config: IConfig) {}
}
@inv.injectable()
class IService {
  constructor(
    @inv.inject(IConfig) readonly config: IConfig,
    @inv.inject(IRepo) readonly repo: IRepo,
  ) {}
}
const ic = new inv.Container();
ic.bind(IConfig).toSelf().inSingletonScope();
ic.bind(IRepo).toSelf().inSingletonScope();
ic.bind(IService).toSelf().inTransientScope();

// ---- tsyringe -----------------------------------------------------------------------------------
@tsy.injectable()
class TConfig {
  readonly url = 'db://bench';
}
@tsy.injectable()
class TRepo {
  constructor(readonly config: TConfig) {}
}
@tsy.injectable()
class TService {
  constructor(
    readonly config: TConfig,
    readonly repo: TRepo,
  ) {}
}
const tc = tsy.container.createChildContainer();
tc.registerSingleton(TConfig);
tc.registerSingleton(TRepo);
tc.register(TService, { useClass: TService });

// Sanity: every library builds what we think it builds.
for (const [name, single, trans] of [
  ['omnitron', () => oc.resolve(OConfig), () => oc.resolve(OService)],
  ['inversify', () => ic.get(IConfig), () => ic.get(IService)],
  ['tsyringe', () => tc.resolve(TConfig), () => tc.resolve(TService)],
] as const) {
  const a = single() as { url: string };
  if (a !== single() || a.url !== 'db://bench') throw new Error(`${name}: singleton is not a singleton`);
  const s1 = trans() as { repo: unknown; config: unknown };
  const s2 = trans() as { repo: unknown; config: unknown };
  if (s1 === s2 || s1.repo !== s2.repo || s1.config !== a) throw new Error(`${name}: transient is wrong`);
}

const results = run([
  { case: 'singleton', lib: 'omnitron', f: () => oc.resolve(OConfig) },
  { case: 'singleton', lib: 'inversify', f: () => ic.get(IConfig) },
  { case: 'singleton', lib: 'tsyringe', f: () => tc.resolve(TConfig) },
  { case: 'transient+2 deps', lib: 'omnitron', f: () => oc.resolve(OService) },
  { case: 'transient+2 deps', lib: 'inversify', f: () => ic.get(IService) },
  { case: 'transient+2 deps', lib: 'tsyringe', f: () => tc.resolve(TService) },
]);
report('DI resolve (Node ' + process.version + ')', results, 'omnitron');
