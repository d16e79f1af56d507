// Signing requests in their one canonical form.
//
// Every request that ends in a signature is parsed here once, strictly, into
// a deep-frozen description that owns copies of everything it holds: the
// approval hook is shown that description, the digest is computed from it
// and the device signs what it names. Nothing the dapp still holds a
// reference to can change it after it was made, and nothing in it is read
// twice from the dapp's objects.
//
// Strict means: keys are exact and case-sensitive, unknown keys are refused
// (so a case variant such as "chainid" or "Message" is refused, not ignored),
// a JSON string with a duplicate key is refused, and numbers have one form
// (integers as decimal strings in typed data, 0x quantities without leading
// zeros in transactions).

import { DuetError, ErrorCode } from './errors.js';

function fail(message) {
  throw new DuetError(ErrorCode.INVALID_ARGUMENT, 'duet: ' + message);
}

const canonical = new WeakSet();

/**
 * Freezes value and everything reachable from it, and records it as made
 * here. Only plain objects, arrays and primitives are allowed.
 */
function deepFreeze(value) {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) {
      deepFreeze(v);
    }
    Object.freeze(value);
  }
  return value;
}

/** Deep-freezes a description made by this module and marks it as such. */
export function seal(description) {
  deepFreeze(description);
  canonical.add(description);
  return description;
}

/** Reports whether d is a description sealed by this module. */
export function isSealed(d) {
  return d !== null && typeof d === 'object' && canonical.has(d);
}

function isPlainObject(v) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    return false;
  }
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

// Reads the own enumerable data properties of o, refusing getters (which
// could answer differently on each read) and keys outside allowed.
function ownFields(o, allowed, what) {
  if (!isPlainObject(o)) {
    fail(`${what} must be a plain object`);
  }
  const out = new Map();
  for (const key of Reflect.ownKeys(o)) {
    if (typeof key !== 'string') {
      fail(`${what} has a symbol key`);
    }
    const desc = Object.getOwnPropertyDescriptor(o, key);
    if (!desc.enumerable) {
      continue;
    }
    if (!('value' in desc)) {
      fail(`${what}.${key} is an accessor, not a value`);
    }
    if (allowed !== null && !allowed.has(key)) {
      fail(`${what} has an unknown key ${JSON.stringify(key)}` + caseHint(key, allowed));
    }
    out.set(key, desc.value);
  }
  return out;
}

function caseHint(key, allowed) {
  for (const a of allowed) {
    if (a.toLowerCase() === key.toLowerCase()) {
      return ` (keys are case-sensitive: did you mean ${JSON.stringify(a)}?)`;
    }
  }
  return '';
}

function ownArray(a, what) {
  if (!Array.isArray(a)) {
    fail(`${what} must be an array`);
  }
  const out = [];
  for (let i = 0; i < a.length; i++) {
    const desc = Object.getOwnPropertyDescriptor(a, i);
    if (desc === undefined || !('value' in desc)) {
      fail(`${what}[${i}] is missing or an accessor`);
    }
    out.push(desc.value);
  }
  return out;
}

// ---- Strict JSON ----

/**
 * Parses JSON text as JSON.parse does, but refuses an object with two equal
 * keys, and numbers that are not integers of at most 2^53 − 1 in magnitude
 * written without exponent, fraction or leading zeros (a larger number would
 * not survive as a JavaScript number; give it as a decimal string).
 * Objects come back with a null prototype, so "__proto__" is an ordinary key.
 */
export function parseStrictJSON(text) {
  if (typeof text !== 'string') {
    fail('want JSON text');
  }
  let i = 0;
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) {
      i++;
    }
  };
  const bad = (what) => fail(`invalid JSON at offset ${i}: ${what}`);
  const str = () => {
    const m = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(text.slice(i));
    if (!m) {
      bad('malformed string');
    }
    i += m[0].length;
    return JSON.parse(m[0]);
  };
  const value = (depth) => {
    if (depth > 64) {
      bad('nested too deeply');
    }
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const o = Object.create(null);
      ws();
      if (text[i] === '}') {
        i++;
        return o;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') {
          bad('want a key');
        }
        const k = str();
        if (Object.hasOwn(o, k)) {
          fail(`JSON has the key ${JSON.stringify(k)} twice in one object`);
        }
        ws();
        if (text[i] !== ':') {
          bad("want ':'");
        }
        i++;
        o[k] = value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return o;
        }
        bad("want ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const a = [];
      ws();
      if (text[i] === ']') {
        i++;
        return a;
      }
      for (;;) {
        a.push(value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return a;
        }
        bad("want ',' or ']'");
      }
    }
    if (c === '"') {
      return str();
    }
    for (const [word, v] of [['true', true], ['false', false], ['null', null]]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    const m = /^-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i));
    if (!m) {
      bad('unexpected character');
    }
    if (m[1] !== undefined || m[2] !== undefined) {
      fail(`JSON number ${m[0]} is not an integer in canonical form; give it as a decimal string`);
    }
    const n = Number(m[0]);
    if (!Number.isSafeInteger(n) || m[0] === '-0') {
      fail(`JSON number ${m[0]} is beyond 2^53 - 1; give it as a decimal string`);
    }
    i += m[0].length;
    return n;
  };
  const v = value(0);
  ws();
  if (i !== text.length) {
    bad('trailing data');
  }
  return v;
}

function define(o, key, value) {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

// Converts a null-prototype object from parseStrictJSON into a plain one,
// recursively, keeping "__proto__" as an own key.
function plain(v) {
  if (Array.isArray(v)) {
    return v.map(plain);
  }
  if (v !== null && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v)) {
      Object.defineProperty(o, k, { value: plain(v[k]), enumerable: true, writable: true, configurable: true });
    }
    return o;
  }
  return v;
}

// ---- Numbers ----

const decimal = /^-?(?:0|[1-9][0-9]*)$/;
const hexQuantityAny = /^0x[0-9a-fA-F]+$/;

// Reads an integer given as a safe JavaScript integer, a bigint, a decimal
// string or a 0x hex string.
function integerValue(v, what) {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) {
      fail(`${what} ${v} is not an integer of at most 2^53 - 1; give large integers as decimal strings`);
    }
    return BigInt(v);
  }
  if (typeof v === 'bigint') {
    return v;
  }
  if (typeof v === 'string' && decimal.test(v) && v !== '-0') {
    return BigInt(v);
  }
  if (typeof v === 'string' && hexQuantityAny.test(v)) {
    return BigInt(v);
  }
  fail(`${what} must be an integer (a number, a decimal string or 0x hex), not ${describe(v)}`);
}

function describe(v) {
  if (typeof v === 'string') {
    return JSON.stringify(v.length > 80 ? v.slice(0, 80) + '…' : v);
  }
  if (typeof v === 'bigint') {
    return v.toString();
  }
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : String(v);
}

// ---- Typed data (EIP-712) ----

// A struct type's name: go-ethereum refuses names that start with "_".
const typeName = /^[A-Za-z][A-Za-z0-9_]*$/;
const fieldName = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const intType = /^(u?)int([0-9]+)$/;
const bytesNType = /^bytes([0-9]+)$/;
const arrayType = /^(.+)\[([0-9]*)\]$/;
const hexBytes = /^0x(?:[0-9a-fA-F]{2})*$/;
const address = /^0x[0-9a-fA-F]{40}$/;

// The domain fields EIP-712 defines, in the order wallets and libraries
// (ethers, viem) declare them, with their types.
const domainFields = [
  ['name', 'string'],
  ['version', 'string'],
  ['chainId', 'uint256'],
  ['verifyingContract', 'address'],
  ['salt', 'bytes32'],
];
const domainFieldNames = new Set(domainFields.map(([n]) => n));
const typedDataKeys = new Set(['types', 'primaryType', 'domain', 'message']);
const typeEntryKeys = new Set(['name', 'type']);

/** A primitive type's kind, or null for a name that is not primitive. */
function primitive(type) {
  if (type === 'address' || type === 'bool' || type === 'string' || type === 'bytes') {
    return { kind: type };
  }
  if (type === 'uint' || type === 'int') {
    fail(`typed data type ${JSON.stringify(type)} is an alias that implementations hash differently; write ${type}256`);
  }
  let m = intType.exec(type);
  if (m) {
    const bits = Number(m[2]);
    if (bits < 8 || bits > 256 || bits % 8 !== 0 || String(bits) !== m[2]) {
      fail(`typed data type ${type} has no such size (8 to 256 bits, in steps of 8)`);
    }
    return { kind: 'int', signed: m[1] === '', bits };
  }
  m = bytesNType.exec(type);
  if (m) {
    const n = Number(m[1]);
    if (n < 1 || n > 32 || String(n) !== m[1]) {
      fail(`typed data type ${type} has no such size (bytes1 to bytes32)`);
    }
    return { kind: 'bytesN', size: n };
  }
  return null;
}

// Parses a field's type into {array: {length|null, of}} | {primitive} | {struct}.
function parseType(type, types, where) {
  if (typeof type !== 'string' || type === '') {
    fail(`${where} type must be a non-empty string`);
  }
  const m = arrayType.exec(type);
  if (m) {
    if (m[2] !== '' && (!/^[1-9][0-9]*$/.test(m[2]) || Number(m[2]) > 1024)) {
      fail(`${where} type ${type} has a malformed array length`);
    }
    return { array: { length: m[2] === '' ? null : Number(m[2]), of: parseType(m[1], types, where) } };
  }
  const p = primitive(type);
  if (p !== null) {
    return { primitive: p, name: type };
  }
  if (!typeName.test(type)) {
    fail(`${where} type ${JSON.stringify(type)} is not a type name`);
  }
  if (!types.has(type)) {
    fail(`${where} type ${type} is not defined in types`);
  }
  return { struct: type };
}

function checkTypes(raw) {
  const entries = ownFields(raw, null, 'typed data types');
  const types = new Map();
  for (const [name, fields] of entries) {
    if (!typeName.test(name) || primitive(name) !== null || arrayType.test(name)) {
      fail(`typed data types has a malformed type name ${JSON.stringify(name)}`);
    }
    types.set(name, ownArray(fields, `typed data types.${name}`));
  }
  const out = new Map();
  for (const [name, fields] of types) {
    const seen = new Set();
    const list = fields.map((f, i) => {
      const where = `typed data types.${name}[${i}]`;
      const e = ownFields(f, typeEntryKeys, where);
      const fname = e.get('name');
      if (typeof fname !== 'string' || !fieldName.test(fname)) {
        fail(`${where} name must be an identifier`);
      }
      if (seen.has(fname)) {
        fail(`typed data types.${name} has the field ${fname} twice`);
      }
      seen.add(fname);
      const ftype = e.get('type');
      return { name: fname, type: ftype, parsed: parseType(ftype, types, where) };
    });
    out.set(name, list);
  }
  // A type that contains itself, directly or through others, has no
  // encoding every implementation agrees on.
  const state = new Map();
  const visit = (name, path) => {
    if (state.get(name) === 'done') {
      return;
    }
    if (state.get(name) === 'active') {
      fail(`typed data type ${name} refers to itself (${[...path, name].join(' → ')})`);
    }
    state.set(name, 'active');
    for (const f of out.get(name)) {
      let t = f.parsed;
      while (t.array) {
        t = t.array.of;
      }
      if (t.struct) {
        visit(t.struct, [...path, name]);
      }
    }
    state.set(name, 'done');
  };
  for (const name of out.keys()) {
    visit(name, []);
  }
  return out;
}

// Returns the canonical form of value for a type: integers as decimal
// strings, addresses and bytes as lowercase hex.
function canonicalValue(t, value, types, where) {
  if (t.array) {
    const items = ownArray(value, where);
    if (t.array.length !== null && items.length !== t.array.length) {
      fail(`${where} has ${items.length} items, want ${t.array.length}`);
    }
    return items.map((v, i) => canonicalValue(t.array.of, v, types, `${where}[${i}]`));
  }
  if (t.struct) {
    return canonicalStruct(t.struct, value, types, where);
  }
  const p = t.primitive;
  switch (p.kind) {
    case 'address':
      if (typeof value !== 'string' || !address.test(value)) {
        fail(`${where} must be a 0x-prefixed 20-byte address, not ${describe(value)}`);
      }
      return value.toLowerCase();
    case 'bool':
      if (typeof value !== 'boolean') {
        fail(`${where} must be true or false, not ${describe(value)}`);
      }
      return value;
    case 'string':
      if (typeof value !== 'string') {
        fail(`${where} must be a string, not ${describe(value)}`);
      }
      return value;
    case 'bytes':
      if (typeof value !== 'string' || !hexBytes.test(value)) {
        fail(`${where} must be 0x-prefixed hex of whole bytes, not ${describe(value)}`);
      }
      return value.toLowerCase();
    case 'bytesN':
      if (typeof value !== 'string' || !hexBytes.test(value) || value.length !== 2 + 2 * p.size) {
        fail(`${where} must be exactly ${p.size} bytes of 0x-prefixed hex, not ${describe(value)}`);
      }
      return value.toLowerCase();
    case 'int': {
      const n = integerValue(value, where);
      const lo = p.signed ? -(1n << BigInt(p.bits - 1)) : 0n;
      const hi = p.signed ? (1n << BigInt(p.bits - 1)) - 1n : (1n << BigInt(p.bits)) - 1n;
      if (n < lo || n > hi) {
        fail(`${where} ${n} is out of range for ${t.name}`);
      }
      return n.toString(10);
    }
    default:
      throw new Error('duet: unreachable primitive kind');
  }
}

function canonicalStruct(name, value, types, where) {
  const fields = types.get(name);
  const given = ownFields(value, new Set(fields.map((f) => f.name)), where);
  const out = {};
  for (const f of fields) {
    if (!given.has(f.name)) {
      fail(`${where} has no field ${f.name} (${f.type})`);
    }
    // defineProperty, so that a field named __proto__ stays a field.
    define(out, f.name, canonicalValue(f.parsed, given.get(f.name), types, `${where}.${f.name}`));
  }
  return out;
}

/**
 * Parses EIP-712 typed data, an object or its JSON, into its canonical form:
 * a plain object {types, primaryType, domain, message} whose types are sorted
 * by name, whose domain fields follow the order of EIP712Domain (which must
 * list exactly the domain's fields, in EIP-712's order, with EIP-712's
 * types), whose message fields follow their type, and whose values are in
 * canonical form. Throws INVALID_ARGUMENT for anything else, including the
 * `uint` and `int` aliases.
 *
 * The result is not frozen; see typedDataRequest.
 */
export function canonicalTypedData(input) {
  const raw = typeof input === 'string' ? plain(parseStrictJSON(input)) : input;
  const top = ownFields(raw, typedDataKeys, 'typed data');
  for (const k of typedDataKeys) {
    if (!top.has(k)) {
      fail(`typed data needs ${k}`);
    }
  }
  const primaryType = top.get('primaryType');
  if (typeof primaryType !== 'string' || primaryType === '') {
    fail('typed data primaryType must be a non-empty string');
  }
  const types = checkTypes(top.get('types'));
  const domainType = types.get('EIP712Domain');
  if (domainType === undefined) {
    fail('typed data types has no EIP712Domain');
  }
  if (!types.has(primaryType)) {
    fail(`typed data types has no primary type ${primaryType}`);
  }
  if (primaryType === 'EIP712Domain') {
    fail('typed data primaryType may not be EIP712Domain');
  }
  const domainIn = ownFields(top.get('domain'), domainFieldNames, 'typed data domain');
  const expected = domainFields.filter(([n]) => domainIn.has(n));
  if (expected.length === 0) {
    fail('typed data domain is empty');
  }
  const declared = domainType.map((f) => `${f.type} ${f.name}`).join(', ');
  const want = expected.map(([n, t]) => `${t} ${n}`).join(', ');
  if (declared !== want) {
    fail(`typed data types.EIP712Domain must declare the domain's fields in EIP-712's order (${want}), not (${declared})`);
  }
  const domain = canonicalStruct('EIP712Domain', top.get('domain'), types, 'typed data domain');
  for (const n of ['name', 'version']) {
    if (domain[n] === '') {
      fail(`typed data domain.${n} is empty; leave it out of the domain and of EIP712Domain instead`);
    }
  }
  if (domain.chainId !== undefined && BigInt(domain.chainId) === 0n) {
    fail('typed data domain.chainId must be positive');
  }
  const message = canonicalStruct(primaryType, top.get('message'), types, 'typed data message');
  const typesOut = {};
  for (const name of [...types.keys()].sort()) {
    define(typesOut, name, types.get(name).map((f) => ({ name: f.name, type: f.type })));
  }
  return { types: typesOut, primaryType, domain, message };
}

/**
 * The JSON the device hashes for canonical typed data: keys in the order of
 * the canonical form, no whitespace. The same description always gives the
 * same text.
 */
export function typedDataJSON(td) {
  return JSON.stringify({ types: td.types, primaryType: td.primaryType, domain: td.domain, message: td.message });
}

// ---- Transactions ----

const quantity = /^0x(?:0|[1-9a-fA-F][0-9a-fA-F]*)$/;

/** Returns n as a canonical 0x quantity. */
export function hexQuantity(n) {
  return '0x' + n.toString(16);
}

/**
 * Reads a 0x quantity. Leading zeros are refused: a quantity has one
 * spelling, as Ethereum's JSON-RPC defines it.
 */
export function quantityValue(v, what) {
  if (typeof v !== 'string' || !quantity.test(v)) {
    fail(`${what} must be a 0x hex quantity without leading zeros, not ${describe(v)}`);
  }
  return BigInt(v);
}

const completeTxKeys = new Set([
  'type', 'chainId', 'nonce', 'to', 'value', 'data', 'gas', 'gasPrice', 'maxFeePerGas',
  'maxPriorityFeePerGas', 'accessList',
]);
const accessEntryKeys = new Set(['address', 'storageKeys']);
const storageKey = /^0x[0-9a-fA-F]{64}$/;
const uint64Max = (1n << 64n) - 1n;
const uint256Max = (1n << 256n) - 1n;

/** Copies an access list, strictly: [{address, storageKeys: [32-byte hex]}]. */
export function canonicalAccessList(list, what) {
  return ownArray(list, what).map((entry, i) => {
    const e = ownFields(entry, accessEntryKeys, `${what}[${i}]`);
    const addr = e.get('address');
    if (typeof addr !== 'string' || !address.test(addr)) {
      fail(`${what}[${i}].address must be a 0x-prefixed 20-byte address`);
    }
    const keys = ownArray(e.get('storageKeys'), `${what}[${i}].storageKeys`).map((k, j) => {
      if (typeof k !== 'string' || !storageKey.test(k)) {
        fail(`${what}[${i}].storageKeys[${j}] must be 32 bytes of 0x hex`);
      }
      return k.toLowerCase();
    });
    return { address: addr.toLowerCase(), storageKeys: keys };
  });
}

/**
 * Parses a complete unsigned transaction (what Duet.signTransaction takes
 * and the device signs) into canonical form: every quantity a canonical 0x
 * quantity, addresses and data lowercase hex, no unknown keys. The type
 * decides which fees it must have.
 */
export function canonicalTransaction(tx) {
  const f = ownFields(tx, completeTxKeys, 'transaction');
  const out = {};
  const q = (name, max, required) => {
    const v = f.get(name);
    if (v === undefined || v === null) {
      if (required) {
        fail(`transaction ${name} is required`);
      }
      return;
    }
    const n = quantityValue(v, `transaction ${name}`);
    if (n > max) {
      fail(`transaction ${name} is too large`);
    }
    out[name] = hexQuantity(n);
  };
  q('type', 2n, true);
  const type = Number(out.type);
  q('chainId', uint256Max, true);
  if (out.chainId === '0x0') {
    fail('transaction chainId must be positive');
  }
  q('nonce', uint64Max - 1n, true);
  const to = f.get('to');
  if (to !== undefined && to !== null) {
    if (typeof to !== 'string' || !address.test(to)) {
      fail('transaction to must be a 0x-prefixed 20-byte address');
    }
    out.to = to.toLowerCase();
  }
  q('value', uint256Max, false);
  out.value = out.value ?? '0x0';
  const data = f.get('data') ?? '0x';
  if (typeof data !== 'string' || !hexBytes.test(data)) {
    fail('transaction data must be 0x-prefixed hex of whole bytes');
  }
  out.data = data.toLowerCase();
  q('gas', uint64Max, true);
  if (out.gas === '0x0') {
    fail('transaction gas must be positive');
  }
  if (type === 2) {
    q('maxFeePerGas', uint256Max, true);
    q('maxPriorityFeePerGas', uint256Max, true);
    if (f.get('gasPrice') != null) {
      fail('a type 0x2 transaction has no gasPrice');
    }
    if (BigInt(out.maxPriorityFeePerGas) > BigInt(out.maxFeePerGas)) {
      fail('transaction maxPriorityFeePerGas exceeds maxFeePerGas');
    }
  } else {
    q('gasPrice', uint256Max, true);
    if (f.get('maxFeePerGas') != null || f.get('maxPriorityFeePerGas') != null) {
      fail(`a type ${out.type} transaction has no maxFeePerGas or maxPriorityFeePerGas`);
    }
  }
  const al = f.get('accessList');
  if (al !== undefined && al !== null) {
    const list = canonicalAccessList(al, 'transaction accessList');
    if (type === 0 && list.length > 0) {
      fail('a type 0x0 transaction has no accessList');
    }
    if (type !== 0) {
      out.accessList = list;
    }
  } else if (type !== 0) {
    out.accessList = [];
  }
  return out;
}

// ---- Descriptions ----

/** Returns the CAIP-2 id ('eip155:N') of a 0x hex chain id. */
export function caip2(chainIdHex) {
  return 'eip155:' + BigInt(chainIdHex).toString(10);
}
