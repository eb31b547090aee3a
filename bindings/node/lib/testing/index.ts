// Testing utilities (spec 10.1): `Test.createTestingModule(...)` with provider overrides, and
// `createMock<T>()` recording stubs. Also importable on their own: `@omnitron-dev/native/testing`.

export {
  Test,
  TestingModule,
  TestingModuleBuilder,
  type TestingModuleMetadata,
  type TestingModuleOptions,
  type OverrideBy,
  type OverrideByFactoryOptions,
  type OverrideModule,
  type TestApplicationOptions,
} from './module.js';
export { TestClient, TestRequest, type TestResponse } from '../http/client.js';
export { createMock, mockFn, isMock, type DeepMocked, type MockFunction, type MockOptions, type MockPartial, type MockResult, type MockState } from './mock.js';
