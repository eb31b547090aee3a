// DTO classes with class-validator's decorators become JSON Schemas (draft 2020-12).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Allow,
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsDateString,
  IsDefined,
  IsEmail,
  IsEnum,
  IsIn,
  IsInt,
  IsNegative,
  IsNotEmpty,
  IsNumber,
  IsObject,
  IsOptional,
  IsPositive,
  IsString,
  IsUrl,
  IsUUID,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  Type,
  ValidateNested,
  schemaOf,
} from '@omnitron-dev/native';

enum Role {
  Admin = 'admin',
  User = 'user',
}
enum Level {
  Low,
  High,
}

class Address {
  @IsString() @MinLength(1) street!: string;
  @IsOptional() @IsString() @MaxLength(10) zip?: string;
}

class CreateUserDto {
  @IsEmail() email!: string;
  @IsString() @Length(2, 50) name!: string;
  @IsOptional() @IsInt() @Min(0) @Max(150) age?: number;
  @IsEnum(Role) role!: Role;
  @IsEnum(Level) level!: Level;
  @IsIn(['a', 'b']) kind!: string;
  @ValidateNested() @Type(() => Address) address!: Address;
  @IsArray() @ArrayMinSize(1) @ValidateNested({ each: true }) @Type(() => Address) others!: Address[];
  @IsString({ each: true }) @ArrayMaxSize(3) tags!: string[];
  @IsUUID() id!: string;
  @IsUrl() site!: string;
  @IsDateString() born!: string;
  @Matches(/^[a-z]+$/) slug!: string;
  @IsNumber() @IsPositive() up!: number;
  @IsNegative() down!: number;
  @IsBoolean() ok!: boolean;
  @IsNotEmpty() nick!: string;
  @Allow() extra?: unknown;
  @IsObject() meta!: object;
  @IsDefined() must!: unknown;
}

test('a DTO becomes an object schema with its rules, nested classes as $defs', () => {
  const s = schemaOf(CreateUserDto);
  assert.equal(s.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.equal(s.title, 'CreateUserDto');
  assert.equal(s.type, 'object');
  const p = s.properties as Record<string, unknown>;
  assert.deepEqual(p.email, { type: 'string', format: 'email' });
  assert.deepEqual(p.name, { type: 'string', minLength: 2, maxLength: 50 });
  assert.deepEqual(p.age, { type: ['integer', 'null'], minimum: 0, maximum: 150 });
  assert.deepEqual(p.role, { type: 'string', enum: ['admin', 'user'] });
  assert.deepEqual(p.level, { type: 'number', enum: [0, 1] });
  assert.deepEqual(p.kind, { type: 'string', enum: ['a', 'b'] });
  assert.deepEqual(p.address, { $ref: '#/$defs/Address' });
  assert.deepEqual(p.others, { type: 'array', minItems: 1, items: { $ref: '#/$defs/Address' } });
  assert.deepEqual(p.tags, { type: 'array', maxItems: 3, items: { type: 'string' } });
  assert.deepEqual(p.id, { type: 'string', format: 'uuid' });
  assert.deepEqual(p.site, { type: 'string', format: 'uri' });
  assert.deepEqual(p.born, { type: 'string', format: 'date-time' });
  assert.deepEqual(p.slug, { type: 'string', pattern: '^[a-z]+$' });
  assert.deepEqual(p.up, { type: 'number', exclusiveMinimum: 0 });
  assert.deepEqual(p.down, { type: 'number', exclusiveMaximum: 0 });
  assert.deepEqual(p.ok, { type: 'boolean' });
  assert.deepEqual(p.nick, { type: 'string', minLength: 1 });
  assert.deepEqual(p.extra, {});
  assert.deepEqual(p.meta, { type: 'object' });
  assert.deepEqual(p.must, { not: { type: 'null' } });
  assert.deepEqual(
    s.required,
    Object.keys(p).filter((k) => k !== 'age' && k !== 'extra'),
  );
  assert.deepEqual(s.$defs, {
    Address: {
      type: 'object',
      properties: { street: { type: 'string', minLength: 1 }, zip: { type: ['string', 'null'], maxLength: 10 } },
      required: ['street'],
    },
  });
});

test('a query or params DTO does not take null for optional fields', () => {
  class ListQuery {
    @IsOptional() @IsInt() @Min(1) page?: number;
    @IsOptional() @IsIn(['asc', 'desc']) order?: string;
  }
  assert.deepEqual(schemaOf(ListQuery, false).properties, {
    page: { type: 'integer', minimum: 1 },
    order: { type: 'string', enum: ['asc', 'desc'] },
  });
});

test('subclasses inherit rules; a class that nests itself refers to the root', () => {
  class Base {
    @IsString() id!: string;
  }
  class Node extends Base {
    @IsOptional() @ValidateNested({ each: true }) @Type(() => Node) children?: Node[];
  }
  const s = schemaOf(Node);
  assert.deepEqual(Object.keys(s.properties as object), ['id', 'children']);
  assert.deepEqual((s.properties as Record<string, unknown>).children, { type: ['array', 'null'], items: { $ref: '#' } });
  assert.equal(s.$defs, undefined);
});

test('decorators refuse what they cannot express', () => {
  assert.throws(() => Matches(/x/i), /no flags/);
  assert.throws(() => Min('1' as any), /finite number/);
  assert.throws(() => Length(-1), /whole number/);
  assert.throws(() => IsString({ eachh: true } as any), /did you mean 'each'/);
  class Loose {
    @ValidateNested() thing!: object;
  }
  assert.throws(() => schemaOf(Loose), /@Type\(\(\) => TheClass\)/);
});
