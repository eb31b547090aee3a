// Classes decorated by a child of test/reflect.test.ts before reflect-metadata loads in the "after"
// order (in the "before" order, after it). Compiled by tsc with emitDecoratorMetadata: the
// constructor parameter and property types are recorded as design metadata.
import { Injectable, Optional } from '@omnitron-dev/native';

@Injectable()
export class Engine {}

@Injectable()
export class Radio {}

@Injectable()
export class Car {
  @Optional() radio?: Radio;
  constructor(readonly engine: Engine) {}
}

/** Inherits Car's constructor, and with it Car's parameter types. */
@Injectable()
export class SportsCar extends Car {}
