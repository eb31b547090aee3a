// The native addon, loaded once by the napi-generated loader at the package root. Everything in it
// is private to this package: the public API is the TypeScript layer around it.
import nativeBinding = require('../native.js');

export const native: typeof nativeBinding = nativeBinding;
