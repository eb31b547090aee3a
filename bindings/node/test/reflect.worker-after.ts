// A worker module that loads the package, then reflect-metadata (as a service module importing an
// entity file does), then its decorated classes.
import '@omnitron-dev/native';
import 'reflect-metadata';
export { ReflectCheck } from './reflect.worker-classes.js';
