// The native addon, loaded once. Everything in it is private to this package: the public API is
// the TypeScript layer around it. (The loader sits at the package root, two levels above the
// compiled dist/lib/, so it is required by path.)
import type * as Native from '../native.js';
import * as path from 'node:path';

export const native: typeof Native = require(path.join(__dirname, '..', '..', 'native.js'));
