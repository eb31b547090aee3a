import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Omnitron, Test } from '@omnitron-dev/native';
import { {{pascal}}Module } from '../src/{{kebab}}/{{kebab}}.module.js';
import { {{pascal}}_OPTIONS } from '../src/{{kebab}}/{{kebab}}.options.js';
import { {{pascal}}Service } from '../src/{{kebab}}/{{kebab}}.service.js';

test('{{kebab}} module provides its service, configured', async () => {
  const app = await Omnitron.create({{pascal}}Module);
  try {
    assert.equal(app.get({{pascal}}Service).describe('7'), '{{kebab}}:7');
  } finally {
    await app.close();
  }
});

test('{{kebab}} module options can be overridden in a test', async () => {
  const module = await Test.createTestingModule({ imports: [{{pascal}}Module] })
    .overrideProvider({{pascal}}_OPTIONS)
    .useValue({ prefix: 'test' })
    .compile();
  try {
    assert.equal(module.get({{pascal}}Service).describe('7'), 'test:7');
  } finally {
    await module.close();
  }
});
