// A child of test/reflect.test.ts: loads the package and reflect-metadata in the order named by
// argv[2] ('none', 'before', 'after'; '-0.1' for reflect-metadata 0.1.14 instead of 0.2), decorates
// classes on both sides of that load, then checks that constructor injection by type works and that
// the design metadata reads back through the Reflect API. Prints one JSON line; a failure exits non-zero.
import assert from 'node:assert/strict';

const mode = process.argv[2] ?? 'none';
const polyfill = mode.endsWith('-0.1') ? 'reflect-metadata-0.1' : 'reflect-metadata';
if (mode.startsWith('before')) require(polyfill);
const lib = require('@omnitron-dev/native') as typeof import('@omnitron-dev/native');
const early = require('./reflect.early.js') as typeof import('./reflect.early.js');
if (mode.startsWith('after')) require(polyfill);
const late = require('./reflect.late.js') as typeof import('./reflect.late.js');

const { Engine, Radio, Car, SportsCar } = early;
const { Driver } = late;
const R = Reflect as any;

// Injection by type, on both sides of the load.
const c = new lib.Container();
for (const cls of [Engine, Radio, Car, SportsCar, Driver]) c.register(cls);
const driver = c.resolve(Driver);
assert.ok(driver.car instanceof Car);
assert.ok(driver.car.engine instanceof Engine);
assert.ok(driver.car.radio instanceof Radio, 'property injection by design:type');
assert.ok(c.resolve(SportsCar).engine instanceof Engine, 'inherited constructor parameters');

// The design metadata, through whichever Reflect API is installed now.
assert.deepEqual(R.getMetadata('design:paramtypes', Car), [Engine]);
assert.deepEqual(R.getOwnMetadata('design:paramtypes', Car), [Engine]);
assert.deepEqual(R.getMetadata('design:paramtypes', Driver), [Car]);
assert.deepEqual(R.getMetadata('design:paramtypes', SportsCar), [Engine], 'inherited through the prototype chain');
assert.equal(R.getOwnMetadata('design:paramtypes', SportsCar), undefined);
assert.equal(R.getMetadata('design:type', Car.prototype, 'radio'), Radio);
assert.ok(R.getOwnMetadataKeys(Car).includes('design:paramtypes'));
assert.ok(R.getMetadataKeys(SportsCar).includes('design:paramtypes'));
assert.equal(R.hasOwnMetadata('design:paramtypes', Car), true);
assert.equal(R.hasMetadata('design:paramtypes', SportsCar), true);
// A library's own metadata (class-validator, TypeORM style) on a class decorated earlier.
R.defineMetadata('custom:role', 'admin', Car);
assert.equal(R.getMetadata('custom:role', SportsCar), 'admin');
assert.equal(R.deleteMetadata('custom:role', Car), true);
assert.equal(R.getMetadata('custom:role', Car), undefined);

process.stdout.write(
  JSON.stringify({
    mode,
    registry: typeof Symbol.for('@reflect-metadata:registry') === 'symbol' && Symbol.for('@reflect-metadata:registry') in Reflect,
    decorate: typeof R.decorate === 'function',
  }) + '\n',
);
