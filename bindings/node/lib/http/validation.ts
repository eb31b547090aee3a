// Validation decorators by class-validator's names, so that NestJS DTOs port by changing an import.
// They only record rules; `schemaOf(Dto)` turns a DTO class into a JSON Schema (draft 2020-12),
// which core checks requests against (a 400 listing every failing field) before the handler runs.
// Nested classes (`@ValidateNested()` with `@Type(() => Address)`) become `$defs` with `$ref`s.

import { invalidArgument } from '../errors.js';
import { installReflectMetadata } from '../reflect.js';
import { describe } from '../di/tokens.js';
import { OptionKeys, checkKeys } from '../util.js';

installReflectMetadata();

/** class-validator's options on each decorator; `each` applies the rule to an array's items. */
export interface ValidationOptions {
  /** The rule applies to each item of an array. */
  each?: boolean;
  /** Accepted for porting; core writes the messages. */
  message?: string | ((...args: any[]) => string);
  /** Accepted for porting; groups are not supported (every rule always applies). */
  groups?: string[];
  always?: boolean;
  context?: unknown;
}
const VALIDATION_KEYS = new OptionKeys(['each', 'message', 'groups', 'always', 'context']);

type Json = Record<string, unknown>;
type PropertyDecorator = (target: object, key: string | symbol) => void;

/** One recorded rule: what it adds to the property's schema (or its items' with `each`). */
interface Rule {
  kind: string;
  each: boolean;
  apply: (s: Json) => void;
}

interface PropMeta {
  rules: Rule[];
  optional: boolean;
  defined: boolean;
  notEmpty: boolean;
  nested: boolean;
  type?: () => unknown;
}

const RULES = Symbol('omnitron:validation');

function ownProps(cls: Function): Map<string, PropMeta> | undefined {
  return Object.prototype.hasOwnProperty.call(cls, RULES) ? (cls as any)[RULES] : undefined;
}

function prop(target: object, key: string | symbol, decorator: string): PropMeta {
  if (typeof key !== 'string') throw invalidArgument(`@${decorator}() decorates properties with string names`);
  const cls = (target as { constructor: Function }).constructor;
  let props = ownProps(cls);
  if (!props) {
    props = new Map();
    Object.defineProperty(cls, RULES, { value: props, enumerable: false });
  }
  let p = props.get(key);
  if (!p) {
    p = { rules: [], optional: false, defined: false, notEmpty: false, nested: false };
    props.set(key, p);
  }
  return p;
}

function checkOptions(o: unknown, decorator: string): ValidationOptions {
  if (o === undefined) return {};
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw invalidArgument(`@${decorator}() takes validation options ({ each, message }), got ${describe(o)}`);
  checkKeys(o, VALIDATION_KEYS, `@${decorator}()`);
  return o as ValidationOptions;
}

function rule(decorator: string, apply: (s: Json) => void, options?: ValidationOptions): PropertyDecorator {
  const o = checkOptions(options, decorator);
  return (target, key) => {
    prop(target, key, decorator).rules.push({ kind: decorator, each: o.each === true, apply });
  };
}

function num(v: unknown, decorator: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidArgument(`@${decorator}() takes a finite number, got ${describe(v)}`);
  return v;
}

function count(v: unknown, decorator: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw invalidArgument(`@${decorator}() takes a whole number of 0 or more, got ${describe(v)}`);
  return v;
}

const type = (t: string) => (s: Json) => {
  s.type = t;
};

// ---- types --------------------------------------------------------------------------------

export const IsString = (o?: ValidationOptions) => rule('IsString', type('string'), o);
export const IsInt = (o?: ValidationOptions) => rule('IsInt', type('integer'), o);
/** `IsNumber(numberOptions?, validationOptions?)`: class-validator's number options are accepted. */
export const IsNumber = (_numberOptions?: object, o?: ValidationOptions) => rule('IsNumber', type('number'), o);
export const IsBoolean = (o?: ValidationOptions) => rule('IsBoolean', type('boolean'), o);
export const IsArray = (o?: ValidationOptions) => rule('IsArray', type('array'), o);
export const IsObject = (o?: ValidationOptions) => rule('IsObject', type('object'), o);

const format = (f: string) => (s: Json) => {
  s.type = 'string';
  s.format = f;
};
/** `IsEmail(emailOptions?, validationOptions?)`. */
export const IsEmail = (_emailOptions?: object, o?: ValidationOptions) => rule('IsEmail', format('email'), o);
/** `IsUrl(urlOptions?, validationOptions?)`. */
export const IsUrl = (_urlOptions?: object, o?: ValidationOptions) => rule('IsUrl', format('uri'), o);
/** `IsUUID(version?, validationOptions?)`: any version is taken. */
export const IsUUID = (_version?: unknown, o?: ValidationOptions) => rule('IsUUID', format('uuid'), o);
/** A date as JSON carries it: an RFC 3339 date-time string (the handler receives the string). */
export const IsDate = (o?: ValidationOptions) => rule('IsDate', format('date-time'), o);
/** `IsDateString(options?, validationOptions?)`: an RFC 3339 date-time string. */
export const IsDateString = (_options?: object, o?: ValidationOptions) => rule('IsDateString', format('date-time'), o);

/** The values of a TypeScript enum (without a numeric enum's reverse names) or of an object. */
function enumValues(e: unknown, decorator: string): unknown[] {
  if (e === null || typeof e !== 'object') throw invalidArgument(`@${decorator}() takes an enum or an object of values, got ${describe(e)}`);
  const o = e as Record<string, unknown>;
  return Object.keys(o)
    .filter((k) => !(typeof o[o[k] as string] === 'number' && /^\d+$/.test(k)))
    .map((k) => o[k]);
}

export const IsEnum = (entity: object, o?: ValidationOptions) => {
  const values = enumValues(entity, 'IsEnum');
  return rule('IsEnum', (s) => {
    s.enum = values;
  }, o);
};

export const IsIn = (values: readonly unknown[], o?: ValidationOptions) => {
  if (!Array.isArray(values)) throw invalidArgument(`@IsIn() takes an array of values, got ${describe(values)}`);
  const v = [...values];
  return rule('IsIn', (s) => {
    s.enum = v;
  }, o);
};

// ---- numbers, strings, arrays --------------------------------------------------------------

export const Min = (min: number, o?: ValidationOptions) => {
  const n = num(min, 'Min');
  return rule('Min', (s) => {
    s.minimum = n;
  }, o);
};
export const Max = (max: number, o?: ValidationOptions) => {
  const n = num(max, 'Max');
  return rule('Max', (s) => {
    s.maximum = n;
  }, o);
};
export const IsPositive = (o?: ValidationOptions) =>
  rule('IsPositive', (s) => {
    s.exclusiveMinimum = 0;
  }, o);
export const IsNegative = (o?: ValidationOptions) =>
  rule('IsNegative', (s) => {
    s.exclusiveMaximum = 0;
  }, o);
export const MinLength = (min: number, o?: ValidationOptions) => {
  const n = count(min, 'MinLength');
  return rule('MinLength', (s) => {
    s.minLength = n;
  }, o);
};
export const MaxLength = (max: number, o?: ValidationOptions) => {
  const n = count(max, 'MaxLength');
  return rule('MaxLength', (s) => {
    s.maxLength = n;
  }, o);
};
/** `Length(min, max?)`. */
export const Length = (min: number, max?: number, o?: ValidationOptions) => {
  const lo = count(min, 'Length');
  const hi = max === undefined ? undefined : count(max, 'Length');
  return rule('Length', (s) => {
    s.minLength = lo;
    if (hi !== undefined) s.maxLength = hi;
  }, o);
};
/** `Matches(pattern, validationOptions?)`: a RegExp (its source; flags other than `u` cannot be kept) or a string. */
export const Matches = (pattern: RegExp | string, o?: ValidationOptions) => {
  if (typeof pattern !== 'string' && !(pattern instanceof RegExp)) throw invalidArgument(`@Matches() takes a RegExp or a string, got ${describe(pattern)}`);
  if (pattern instanceof RegExp && /[imsy]/.test(pattern.flags)) {
    throw invalidArgument(`@Matches(${pattern}): JSON Schema patterns have no flags; write the pattern without '${pattern.flags}'`);
  }
  const source = typeof pattern === 'string' ? pattern : pattern.source;
  return rule('Matches', (s) => {
    s.type ??= 'string';
    s.pattern = source;
  }, o);
};
export const ArrayMinSize = (min: number, o?: ValidationOptions) => {
  const n = count(min, 'ArrayMinSize');
  return rule('ArrayMinSize', (s) => {
    s.type = 'array';
    s.minItems = n;
  }, o);
};
export const ArrayMaxSize = (max: number, o?: ValidationOptions) => {
  const n = count(max, 'ArrayMaxSize');
  return rule('ArrayMaxSize', (s) => {
    s.type = 'array';
    s.maxItems = n;
  }, o);
};

// ---- presence ------------------------------------------------------------------------------

/** The property may be absent (or null); its other rules apply when it is there. */
export const IsOptional = (o?: ValidationOptions): PropertyDecorator => {
  checkOptions(o, 'IsOptional');
  return (target, key) => {
    prop(target, key, 'IsOptional').optional = true;
  };
};
/** The property must be there and not null. */
export const IsDefined = (o?: ValidationOptions): PropertyDecorator => {
  checkOptions(o, 'IsDefined');
  return (target, key) => {
    prop(target, key, 'IsDefined').defined = true;
  };
};
/** Not `''`, null or absent (and a non-empty array for an array). */
export const IsNotEmpty = (o?: ValidationOptions): PropertyDecorator => {
  checkOptions(o, 'IsNotEmpty');
  return (target, key) => {
    prop(target, key, 'IsNotEmpty').notEmpty = true;
  };
};
/** The property is allowed, with no rule (class-validator's whitelist marker). */
export const Allow = (o?: ValidationOptions): PropertyDecorator => {
  checkOptions(o, 'Allow');
  return (target, key) => {
    prop(target, key, 'Allow').optional = true;
  };
};

// ---- nesting -------------------------------------------------------------------------------

/** The property is an object (or, for an array, objects) of the class given by `@Type(() => Cls)` or its declared type. */
export const ValidateNested = (o?: ValidationOptions): PropertyDecorator => {
  checkOptions(o, 'ValidateNested');
  return (target, key) => {
    prop(target, key, 'ValidateNested').nested = true;
  };
};

/** class-transformer's `@Type(() => Cls)`: the class of a nested property (or of an array's items). */
export function Type(fn: () => unknown): PropertyDecorator {
  if (typeof fn !== 'function') throw invalidArgument(`@Type() takes a function returning a class, such as () => Address, got ${describe(fn)}`);
  return (target, key) => {
    prop(target, key, 'Type').type = fn;
  };
}

// ---- the schema ----------------------------------------------------------------------------

/** Every rule of `cls`, its parents' first (a subclass adds to what it inherits). */
function allProps(cls: Function): Map<string, PropMeta> {
  const chain: Function[] = [];
  for (let c: any = cls; c && c !== Function.prototype && c !== Object; c = Object.getPrototypeOf(c)) chain.unshift(c);
  const out = new Map<string, PropMeta>();
  for (const c of chain) {
    for (const [k, p] of ownProps(c) ?? []) {
      const have = out.get(k);
      out.set(k, have ? { ...have, ...p, rules: [...have.rules, ...p.rules], type: p.type ?? have.type } : p);
    }
  }
  return out;
}

/** Whether `cls` is a class with validation decorators (a DTO). */
export function isDto(cls: unknown): cls is Function {
  return typeof cls === 'function' && allProps(cls).size > 0;
}

const PRIMITIVES = new Map<unknown, Json>([
  [String, { type: 'string' }],
  [Number, { type: 'number' }],
  [Boolean, { type: 'boolean' }],
  [Array, { type: 'array' }],
  [Date, { type: 'string', format: 'date-time' }],
]);

interface Build {
  root: Function;
  defs: Record<string, Json>;
  names: Map<Function, string>;
  /** Absent properties only (null is refused) in a query or path parameters, whose values are never null. */
  nullable: boolean;
}

function refTo(cls: Function, b: Build): Json {
  if (cls === b.root) return { $ref: '#' };
  let name = b.names.get(cls);
  if (name === undefined) {
    name = cls.name || 'Anonymous';
    for (let i = 2; Object.hasOwn(b.defs, name); i++) name = `${cls.name || 'Anonymous'}${i}`;
    b.names.set(cls, name);
    b.defs[name] = {}; // taken before recursing: a class that nests itself refers to this entry
    b.defs[name] = objectSchema(cls, b);
  }
  return { $ref: `#/$defs/${name}` };
}

function propertySchema(cls: Function, key: string, p: PropMeta, b: Build): Json {
  const declared = (Reflect as any).getMetadata?.('design:type', cls.prototype, key);
  const s: Json = { ...(PRIMITIVES.get(declared) ?? {}) };
  const items: Json = {};
  for (const r of p.rules) r.apply(r.each ? items : s);
  if (p.nested) {
    const target = p.type?.() ?? declared;
    if (typeof target !== 'function' || PRIMITIVES.has(target) || target === Object) {
      throw invalidArgument(
        `@ValidateNested() on '${cls.name}.${key}' needs the nested class: add @Type(() => TheClass)` + (declared === Array ? ' (the array items are objects of which class?)' : ''),
      );
    }
    const ref = refTo(target, b);
    if (s.type === 'array' || declared === Array) {
      s.type = 'array';
      Object.assign(items, ref);
    } else {
      delete s.type;
      Object.assign(s, ref);
    }
  } else if (p.type && declared === Array && Object.keys(items).length === 0) {
    const t = p.type();
    const prim = PRIMITIVES.get(t);
    if (prim) Object.assign(items, prim);
  }
  if (Object.keys(items).length > 0) {
    s.type = 'array';
    s.items = items;
  }
  if (p.notEmpty) {
    if (s.type === 'string') s.minLength = Math.max(1, (s.minLength as number | undefined) ?? 0);
    else if (s.type === 'array') s.minItems = Math.max(1, (s.minItems as number | undefined) ?? 0);
    else s.not = { enum: ['', null] };
  }
  if (p.defined && s.type === undefined && s.$ref === undefined) s.not = { type: 'null' };
  if (p.optional && b.nullable && !p.defined && !p.notEmpty) {
    if (typeof s.type === 'string') s.type = [s.type, 'null'];
    else if (s.$ref !== undefined) return { anyOf: [s, { type: 'null' }] };
  }
  return s;
}

function objectSchema(cls: Function, b: Build): Json {
  const properties: Record<string, Json> = {};
  const required: string[] = [];
  for (const [key, p] of allProps(cls)) {
    properties[key] = propertySchema(cls, key, p, b);
    if (!p.optional || p.defined || p.notEmpty) required.push(key);
  }
  const s: Json = { type: 'object', properties };
  if (required.length > 0) s.required = required;
  return s;
}

/**
 * The JSON Schema (draft 2020-12) of DTO class `cls`: an object with a property per decorated
 * field (required unless `@IsOptional()`), nested classes as `$defs`. With `nullable` (bodies), an
 * optional property may also be null, as class-validator's `@IsOptional()` allows; queries and
 * path parameters are strings, never null.
 */
export function schemaOf(cls: Function, nullable = true): Json {
  if (typeof cls !== 'function') throw invalidArgument(`expected a DTO class, got ${describe(cls)}`);
  const b: Build = { root: cls, defs: {}, names: new Map(), nullable };
  const s = objectSchema(cls, b);
  const out: Json = { $schema: 'https://json-schema.org/draft/2020-12/schema', title: cls.name || undefined, ...s };
  if (Object.keys(b.defs).length > 0) out.$defs = b.defs;
  return out;
}
