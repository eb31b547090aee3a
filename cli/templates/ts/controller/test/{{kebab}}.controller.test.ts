import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Test } from '@omnitron-dev/native';
import { {{pascal}}Module } from '../src/{{kebab}}.controller.js';

// In-process requests through the app's whole pipeline (no port), as supertest users expect.
test('/{{kebab}} creates, reads and deletes', async () => {
  const app = await Test.createApplication({{pascal}}Module);
  try {
    const created = await app.request().post('/{{kebab}}').send({ name: 'first' }).expect(201);
    assert.deepEqual(created.body, { id: 1, name: 'first' });
    await app.request().get('/{{kebab}}/1').expect(200, { id: 1, name: 'first' });
    await app.request().get('/{{kebab}}?limit=5').expect(200, [{ id: 1, name: 'first' }]);
    await app.request().delete('/{{kebab}}/1').expect(204);
    const missing = await app.request().get('/{{kebab}}/1').expect(404);
    assert.equal(missing.body.status, 404); // a problem document
  } finally {
    await app.close();
  }
});
