// Classes decorated by a child of test/reflect.test.ts after reflect-metadata loaded (in the
// "none" order, with only the package's own polyfill).
import { Injectable } from '@omnitron-dev/native';
import { Car } from './reflect.early.js';

@Injectable()
export class Driver {
  constructor(readonly car: Car) {}
}
