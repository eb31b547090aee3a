// A worker module that starts with `import 'reflect-metadata'`, as most NestJS-style code does.
import 'reflect-metadata';
export { ReflectCheck } from './reflect.worker-classes.js';
