// Spec 10.2: Test.createApplication(AppModule, overrides) and supertest's chain, in-process; and a
// controller calling a ServiceProxy of another peer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Body,
  Controller,
  Get,
  Injectable,
  InjectProcess,
  Module,
  Param,
  Peer,
  Post,
  Public,
  Service,
  type ServiceProxy,
} from '@omnitron-dev/native';
import { Test } from '@omnitron-dev/native/testing';

interface Order {
  id: string;
  status: string;
  items: unknown[];
}

@Injectable()
class OrdersRepository {
  save(_o: Order): Order {
    throw new Error('the real repository needs a database');
  }
}

@Controller('orders')
class OrdersController {
  constructor(private readonly repo: OrdersRepository) {}

  @Post()
  create(@Body() body: { items: unknown[] }) {
    return this.repo.save({ id: 'o-1', status: 'pending', items: body.items });
  }
}

@Module({ controllers: [OrdersController], providers: [OrdersRepository] })
class OrdersModule {}

@Module({ imports: [OrdersModule] })
class AppModule {}

test('Test.createApplication with a provider replaced, and supertest-style expectations', async () => {
  const saved: Order[] = [];
  const app = await Test.createApplication(AppModule, {
    providers: [{ provide: OrdersRepository, useValue: { save: (o: Order) => (saved.push(o), o) } }],
  });
  try {
    const response = await app
      .request()
      .post('/orders')
      .send({ items: [{ productId: '123', quantity: 2 }] })
      .expect(201)
      .expect('content-type', /json/);
    assert.equal(response.body.id, 'o-1');
    assert.equal(response.body.status, 'pending');
    assert.equal(saved.length, 1);
    // A failed expectation rejects with what was expected and what came.
    await assert.rejects(app.request().post('/orders').send({ items: [] }).expect(200), /expected status 200, got 201/);
    await assert.rejects(app.request().get('/orders').expect(200), /expected status 200, got 405/);
  } finally {
    await app.close();
  }
});

test('Test.createApplication refuses what it does not take', async () => {
  await assert.rejects(Test.createApplication(AppModule, { database: 'test' } as any), /unknown option 'database'/);
  await assert.rejects(Test.createApplication(AppModule, { providers: [OrdersRepository] } as any), /provide/);
});

@Service('pricing@1.0.0')
class PricingService {
  @Public()
  async price(sku: string): Promise<number> {
    return sku.length * 10;
  }
}

@Controller('prices')
class PricesController {
  @InjectProcess(PricingService)
  pricing!: ServiceProxy<PricingService>;

  @Get(':sku')
  async price(@Param('sku') sku: string) {
    return { sku, price: await this.pricing.price(sku) };
  }
}

@Module({ controllers: [PricesController] })
class PricesModule {}

test('a controller calls a ServiceProxy of another peer', async () => {
  const addr = `unix:${mkdtempSync(join(tmpdir(), 'omni-http-'))}/rpc.sock`;
  const server = await Peer.listen(addr, { token: 't' });
  await server.expose(new PricingService());
  const client = await Peer.connect(addr, { token: 't' });
  const app = await Test.createApplication(PricesModule);
  try {
    await app.request().get('/prices/abc').expect(200, { sku: 'abc', price: 30 });
  } finally {
    await app.close();
    await client.close();
    await server.close();
  }
});
