// Spec 10.1 as written, under `node --test`: only the imports, the two classes it tests and an
// assertion in place of jest's `toMatchSnapshot` are added.
import { describe, it, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { Injectable } from '@omnitron-dev/native';
import { Test, TestingModule, createMock, type DeepMocked } from '@omnitron-dev/native/testing';

interface CreateUser {
  email: string;
  name: string;
}
interface User extends CreateUser {
  id: string;
}

@Injectable()
class UserRepository {
  async save(_user: CreateUser): Promise<User> {
    throw new Error('the real repository needs a database');
  }
}

@Injectable()
class UserService {
  constructor(private readonly users: UserRepository) {}

  async create(data: CreateUser): Promise<User> {
    return this.users.save({ ...data, email: data.email.toLowerCase() });
  }
}

// Automatic test setup with DI
describe('UserService', () => {
  let service: UserService;
  let module: TestingModule;

  beforeEach(async () => {
    module = await Test.createTestingModule({
      providers: [
        UserService,
        {
          provide: UserRepository,
          useValue: createMock<UserRepository>(), // Auto-mocked
        },
      ],
    }).compile();

    service = module.get<UserService>(UserService);
  });

  it('should create user', async () => {
    const user = await service.create({
      email: 'test@example.com',
      name: 'Test User',
    });

    // In place of `expect(user).toMatchSnapshot()`: the service handed the data to the mocked
    // repository and gave back what the repository returned.
    const repo = module.get<DeepMocked<UserRepository>>(UserRepository);
    assert.deepEqual(repo.save.mock.calls, [[{ email: 'test@example.com', name: 'Test User' }]]);
    assert.equal(user, repo.save.mock.results[0].value);
  });
});
