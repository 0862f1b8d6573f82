/**
 * A restricted unpickler (pickle protocols 0-5) that never executes anything.
 *
 * Python's unpickler imports and calls whatever GLOBAL names, which makes an untrusted pickle
 * arbitrary code. Here GLOBAL/STACK_GLOBAL resolve only through an allow-list the caller passes
 * (qualified name -> JS handler); any other name is refused with the file, byte offset and name.
 * With `tolerateUnknown`, unknown classes become inert PyObjectRecord data instead.
 */
import { InputError } from '../errors';
import { PyDict, PyGlobalRef, PyObjectRecord, describePyValue, isPyTuple, makeTuple, type PyTuple } from './pickle-values';

export * from './pickle-values';

/** How an allow-listed global behaves when the pickle calls it (REDUCE, NEWOBJ) or BUILDs its result. */
export interface PyGlobalHandler {
  /** REDUCE `f(*args)`, NEWOBJ `cls.__new__(cls, *args)` (kwargs from NEWOBJ_EX). */
  construct?(args: PyTuple, kwargs?: PyDict): unknown;
  /** BUILD on an object this handler constructed: Python's `obj.__setstate__(state)`. */
  setState?(obj: unknown, state: unknown): void;
  /** When set, GLOBAL pushes this value itself (for constants such as `torch.float32`). */
  constant?: unknown;
}

/** Allowed globals by qualified name "module.name"; a bare function is a `construct` handler. */
export type PyAllowList = Record<string, PyGlobalHandler | ((args: PyTuple, kwargs?: PyDict) => unknown)>;

export interface UnpickleOptions {
  /** Globals the pickle may name; everything else is refused (plus {@link SAFE_BUILTIN_GLOBALS}). */
  allow?: PyAllowList;
  /**
   * Turn globals outside the allow-list into inert {@link PyObjectRecord}s instead of refusing.
   * A predicate decides per qualified name (return false to still refuse it). Default: refuse all.
   */
  tolerateUnknown?: boolean | ((qualifiedName: string) => boolean);
  /** Resolves persistent ids (PERSID/BINPERSID); without it a persistent id is refused. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Labels errors. */
  file?: string;
}

/** Python 2 module names that Python 3 maps on load (fix_imports). */
const PY2_MODULES: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

function latin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) throw new Error(`_codecs.encode: character U+${c.toString(16)} is not latin-1`);
    out[i] = c;
  }
  return out;
}

/**
 * Globals that only build plain data and are always allowed: how protocol 2 writes bytes
 * (`_codecs.encode(str, 'latin1')`, `bytes()`), sets and bytearrays.
 */
export const SAFE_BUILTIN_GLOBALS: PyAllowList = {
  '_codecs.encode': (args) => {
    const [s, enc] = args;
    if (typeof s !== 'string' || (enc !== 'latin1' && enc !== 'latin-1')) throw new Error(`_codecs.encode only decodes (str, 'latin1'), got (${args.map(describePyValue).join(', ')})`);
    return latin1(s);
  },
  'builtins.bytes': (args) => (args.length === 0 ? new Uint8Array(0) : toBytes(args[0])),
  'builtins.bytearray': (args) => (args.length === 0 ? new Uint8Array(0) : typeof args[0] === 'string' ? latin1(args[0]) : toBytes(args[0])),
  'builtins.set': (args) => new Set((args[0] as unknown[]) ?? []),
  'builtins.frozenset': (args) => new Set((args[0] as unknown[]) ?? []),
};

function toBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return Uint8Array.from(v as number[]);
  throw new Error(`cannot make bytes from ${describePyValue(v)}`);
}

/** Opcodes by byte, for error messages and the dispatch below. */
const enum Op {
  MARK = 0x28, STOP = 0x2e, POP = 0x30, POP_MARK = 0x31, DUP = 0x32, FLOAT = 0x46, INT = 0x49,
  BININT = 0x4a, BININT1 = 0x4b, LONG = 0x4c, BININT2 = 0x4d, NONE = 0x4e, PERSID = 0x50,
  BINPERSID = 0x51, REDUCE = 0x52, STRING = 0x53, BINSTRING = 0x54, SHORT_BINSTRING = 0x55,
  UNICODE = 0x56, BINUNICODE = 0x58, APPEND = 0x61, BUILD = 0x62, GLOBAL = 0x63, DICT = 0x64,
  EMPTY_DICT = 0x7d, APPENDS = 0x65, GET = 0x67, BINGET = 0x68, INST = 0x69, LONG_BINGET = 0x6a,
  LIST = 0x6c, EMPTY_LIST = 0x5d, OBJ = 0x6f, PUT = 0x70, BINPUT = 0x71, LONG_BINPUT = 0x72,
  SETITEM = 0x73, TUPLE = 0x74, EMPTY_TUPLE = 0x29, SETITEMS = 0x75, BINFLOAT = 0x47,
  PROTO = 0x80, NEWOBJ = 0x81, EXT1 = 0x82, EXT2 = 0x83, EXT4 = 0x84, TUPLE1 = 0x85, TUPLE2 = 0x86,
  TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b, BINBYTES = 0x42,
  SHORT_BINBYTES = 0x43, SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e,
  EMPTY_SET = 0x8f, ADDITEMS = 0x90, FROZENSET = 0x91, NEWOBJ_EX = 0x92, STACK_GLOBAL = 0x93,
  MEMOIZE = 0x94, FRAME = 0x95, BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97, READONLY_BUFFER = 0x98,
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1Decoder = new TextDecoder('latin1');

/** Little-endian two's-complement integer of any length (LONG1/LONG4 payload). */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return normaliseInt(v);
}

function normaliseInt(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

/**
 * Unpickles `bytes`. Never imports or runs anything: the only code that runs is the caller's
 * allow-listed handlers.
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): unknown {
  return new Unpickler(bytes, options).load();
}

class Unpickler {
  private pos = 0;
  private opStart = 0;
  private stack: unknown[] = [];
  private metastack: unknown[][] = [];
  private memo = new Map<number, unknown>();
  /** Which handler constructed an object, so BUILD can find its setState. */
  private madeBy = new WeakMap<object, PyGlobalHandler>();
  private readonly dv: DataView;
  private readonly file: string;
  private readonly allow: Record<string, PyGlobalHandler>;

  private readonly bytes: Uint8Array;

  constructor(
    input: Uint8Array,
    private readonly options: UnpickleOptions,
  ) {
    // A plain Uint8Array view: Buffer#slice would return views where copies are meant.
    this.bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    const bytes = this.bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.file = options.file ?? '<pickle>';
    this.allow = {};
    for (const [name, h] of Object.entries({ ...SAFE_BUILTIN_GLOBALS, ...(options.allow ?? {}) })) {
      this.allow[name] = typeof h === 'function' ? { construct: h } : h;
    }
  }

  private fail(message: string): never {
    throw new InputError(message, this.file, `byte ${this.opStart}`);
  }

  private take(n: number): Uint8Array {
    if (n < 0 || this.pos + n > this.bytes.length) this.fail(`truncated pickle: opcode needs ${n} more bytes, ${this.bytes.length - this.pos} left`);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  private u8(): number {
    return this.take(1)[0];
  }
  private u16(): number {
    this.take(2);
    return this.dv.getUint16(this.pos - 2, true);
  }
  private i32(): number {
    this.take(4);
    return this.dv.getInt32(this.pos - 4, true);
  }
  private u32(): number {
    this.take(4);
    return this.dv.getUint32(this.pos - 4, true);
  }
  private u64(): number {
    this.take(8);
    const v = this.dv.getBigUint64(this.pos - 8, true);
    if (v > BigInt(this.bytes.length)) this.fail(`truncated pickle: length ${v} exceeds the ${this.bytes.length}-byte input`);
    return Number(v);
  }
  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('truncated pickle: missing end of line');
    const s = latin1Decoder.decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
  private utf8(n: number): string {
    const b = this.take(n);
    try {
      return utf8.decode(b);
    } catch {
      this.fail('string is not valid UTF-8');
    }
  }

  /** A method, not `this.stack.push`, so the stack is looked up after popMark() in the argument ran. */
  private push(v: unknown): void {
    this.stack.push(v);
  }
  private pop(): unknown {
    if (this.stack.length === 0) this.fail('pickle stack underflow');
    return this.stack.pop();
  }
  private top(): unknown {
    if (this.stack.length === 0) this.fail('pickle stack underflow');
    return this.stack[this.stack.length - 1];
  }
  /** Pops everything down to the last MARK. */
  private popMark(): unknown[] {
    const items = this.stack;
    const prev = this.metastack.pop();
    if (prev === undefined) this.fail('pickle has no MARK to pop to');
    this.stack = prev;
    return items;
  }

  private resolveGlobal(module: string, name: string): unknown {
    const mod = PY2_MODULES[module] ?? module;
    const qualified = `${mod}.${name}`;
    const handler = this.allow[qualified];
    if (handler) {
      if ('constant' in handler) return handler.constant;
      return new BoundGlobal(qualified, handler);
    }
    const tol = this.options.tolerateUnknown;
    if (tol === true || (typeof tol === 'function' && tol(qualified))) return new BoundGlobal(qualified, inertHandler(qualified));
    const allowed = Object.keys(this.options.allow ?? {});
    this.fail(`pickle refers to global '${qualified}', which is not allowed (allowed: ${allowed.length ? allowed.join(', ') : 'none'})`);
  }

  private call(callable: unknown, args: unknown, kwargs?: PyDict): unknown {
    if (!(callable instanceof BoundGlobal)) this.fail(`cannot call ${describePyValue(callable)}: only allow-listed globals can be called`);
    if (!isPyTuple(args) && !Array.isArray(args)) this.fail(`arguments for ${callable.qualifiedName} must be a tuple, got ${describePyValue(args)}`);
    const construct = callable.handler.construct;
    if (!construct) this.fail(`global '${callable.qualifiedName}' is allowed only as a value, not called`);
    let out: unknown;
    try {
      out = construct(makeTuple([...args]), kwargs);
    } catch (e) {
      if (e instanceof InputError) throw e;
      this.fail(`${callable.qualifiedName}: ${(e as Error).message}`);
    }
    if (out !== null && typeof out === 'object') this.madeBy.set(out, callable.handler);
    return out;
  }

  private build(obj: unknown, state: unknown): void {
    const handler = obj !== null && typeof obj === 'object' ? this.madeBy.get(obj) : undefined;
    if (handler?.setState) {
      try {
        handler.setState(obj, state);
      } catch (e) {
        if (e instanceof InputError) throw e;
        this.fail(`BUILD: ${(e as Error).message}`);
      }
      return;
    }
    if (obj instanceof PyObjectRecord) {
      obj.state = state;
      return;
    }
    if (obj instanceof PyDict && state instanceof PyDict) {
      obj.attributes ??= new Map();
      for (const [k, v] of state) obj.attributes.set(String(k), v);
      return;
    }
    this.fail(`BUILD on ${describePyValue(obj)} with state ${describePyValue(state)} is not supported`);
  }

  private setItems(target: unknown, kv: unknown[]): void {
    if (kv.length % 2 !== 0) this.fail('SETITEMS with an odd number of items');
    let dict: Map<unknown, unknown>;
    if (target instanceof Map) dict = target;
    else if (target instanceof PyObjectRecord) dict = target.items ??= new PyDict();
    else this.fail(`SETITEM on ${describePyValue(target)}: expected a dict`);
    for (let i = 0; i < kv.length; i += 2) dict.set(kv[i], kv[i + 1]);
  }

  private appendItems(target: unknown, items: unknown[]): void {
    if (Array.isArray(target) && !Object.isFrozen(target)) target.push(...items);
    else if (target instanceof PyObjectRecord) (target.listItems ??= []).push(...items);
    else this.fail(`APPEND on ${describePyValue(target)}: expected a list`);
  }

  private memoGet(i: number): unknown {
    if (!this.memo.has(i)) this.fail(`memo key ${i} was never stored`);
    return this.memo.get(i);
  }

  private persistent(pid: unknown): unknown {
    if (!this.options.persistentLoad) this.fail('pickle uses a persistent id, which this reader does not accept');
    try {
      return this.options.persistentLoad(pid);
    } catch (e) {
      if (e instanceof InputError) throw e;
      this.fail(`persistent id ${describePyValue(pid)}: ${(e as Error).message}`);
    }
  }

  load(): unknown {
    const b = this.bytes;
    for (;;) {
      this.opStart = this.pos;
      if (this.pos >= b.length) this.fail('truncated pickle: no STOP opcode');
      const op = b[this.pos++];
      switch (op) {
        case Op.PROTO: {
          const p = this.u8();
          if (p > 5) this.fail(`unsupported pickle protocol ${p} (this reader knows 0-5)`);
          break;
        }
        case Op.FRAME:
          this.take(8); // a length prefix for buffered reading; the data follows inline
          break;
        case Op.STOP:
          return this.pop();
        case Op.MARK:
          this.metastack.push(this.stack);
          this.stack = [];
          break;
        case Op.POP:
          // Python pops the MARK itself when the current stack is empty.
          if (this.stack.length === 0) this.popMark();
          else this.stack.pop();
          break;
        case Op.POP_MARK:
          this.popMark();
          break;
        case Op.DUP:
          this.push(this.top());
          break;
        case Op.NONE:
          this.push(null);
          break;
        case Op.NEWTRUE:
          this.push(true);
          break;
        case Op.NEWFALSE:
          this.push(false);
          break;
        case Op.INT: {
          const s = this.line();
          if (s === '01') this.push(true);
          else if (s === '00') this.push(false);
          else this.push(this.parseIntText(s));
          break;
        }
        case Op.LONG:
          this.push(this.parseIntText(this.line().replace(/L$/, '')));
          break;
        case Op.BININT:
          this.push(this.i32());
          break;
        case Op.BININT1:
          this.push(this.u8());
          break;
        case Op.BININT2:
          this.push(this.u16());
          break;
        case Op.LONG1:
          this.push(decodeLong(this.take(this.u8())));
          break;
        case Op.LONG4: {
          const n = this.i32();
          if (n < 0) this.fail('LONG4 with a negative length');
          this.push(decodeLong(this.take(n)));
          break;
        }
        case Op.FLOAT: {
          const s = this.line();
          const v = Number(s);
          if (Number.isNaN(v) && !/^[-+]?nan$/i.test(s)) this.fail(`bad FLOAT text '${s}'`);
          this.push(v);
          break;
        }
        case Op.BINFLOAT:
          this.take(8);
          this.push(this.dv.getFloat64(this.pos - 8, false));
          break;
        case Op.STRING: {
          const s = this.line();
          const m = /^(['"])(.*)\1$/s.exec(s);
          if (!m) this.fail('STRING opcode argument must be quoted');
          this.push(unescapePy(m[2]));
          break;
        }
        case Op.BINSTRING: {
          const n = this.i32();
          this.push(latin1Decoder.decode(this.take(n)));
          break;
        }
        case Op.SHORT_BINSTRING:
          this.push(latin1Decoder.decode(this.take(this.u8())));
          break;
        case Op.UNICODE:
          this.push(unescapePy(this.line()));
          break;
        case Op.BINUNICODE:
          this.push(this.utf8(this.u32()));
          break;
        case Op.SHORT_BINUNICODE:
          this.push(this.utf8(this.u8()));
          break;
        case Op.BINUNICODE8:
          this.push(this.utf8(this.u64()));
          break;
        case Op.BINBYTES:
          this.push(this.take(this.u32()).slice());
          break;
        case Op.SHORT_BINBYTES:
          this.push(this.take(this.u8()).slice());
          break;
        case Op.BINBYTES8:
        case Op.BYTEARRAY8:
          this.push(this.take(this.u64()).slice());
          break;
        case Op.NEXT_BUFFER:
          this.fail('pickle uses out-of-band buffers (protocol 5 NEXT_BUFFER), which this reader does not accept; pickle in-band');
          break;
        case Op.READONLY_BUFFER:
          break; // a read-only view of the buffer on top: same bytes for us
        case Op.EMPTY_TUPLE:
          this.push(makeTuple([]));
          break;
        case Op.TUPLE1:
          this.push(makeTuple([this.pop()]));
          break;
        case Op.TUPLE2: {
          const y = this.pop();
          const x = this.pop();
          this.push(makeTuple([x, y]));
          break;
        }
        case Op.TUPLE3: {
          const z = this.pop();
          const y = this.pop();
          const x = this.pop();
          this.push(makeTuple([x, y, z]));
          break;
        }
        case Op.TUPLE:
          this.push(makeTuple(this.popMark()));
          break;
        case Op.EMPTY_LIST:
          this.push([]);
          break;
        case Op.LIST:
          this.push(this.popMark());
          break;
        case Op.EMPTY_DICT:
          this.push(new PyDict());
          break;
        case Op.DICT: {
          const d = new PyDict();
          this.setItems(d, this.popMark());
          this.push(d);
          break;
        }
        case Op.EMPTY_SET:
          this.push(new Set());
          break;
        case Op.FROZENSET:
          this.push(new Set(this.popMark()));
          break;
        case Op.ADDITEMS: {
          const items = this.popMark();
          const s = this.top();
          if (!(s instanceof Set)) this.fail(`ADDITEMS on ${describePyValue(s)}: expected a set`);
          for (const x of items) s.add(x);
          break;
        }
        case Op.APPEND: {
          const v = this.pop();
          this.appendItems(this.top(), [v]);
          break;
        }
        case Op.APPENDS: {
          const items = this.popMark();
          this.appendItems(this.top(), items);
          break;
        }
        case Op.SETITEM: {
          const v = this.pop();
          const k = this.pop();
          this.setItems(this.top(), [k, v]);
          break;
        }
        case Op.SETITEMS: {
          const kv = this.popMark();
          this.setItems(this.top(), kv);
          break;
        }
        case Op.PUT:
          this.memo.set(this.parseMemoKey(this.line()), this.top());
          break;
        case Op.BINPUT:
          this.memo.set(this.u8(), this.top());
          break;
        case Op.LONG_BINPUT:
          this.memo.set(this.u32(), this.top());
          break;
        case Op.MEMOIZE:
          this.memo.set(this.memo.size, this.top());
          break;
        case Op.GET:
          this.push(this.memoGet(this.parseMemoKey(this.line())));
          break;
        case Op.BINGET:
          this.push(this.memoGet(this.u8()));
          break;
        case Op.LONG_BINGET:
          this.push(this.memoGet(this.u32()));
          break;
        case Op.GLOBAL: {
          const module = this.line();
          const name = this.line();
          this.push(this.resolveGlobal(module, name));
          break;
        }
        case Op.STACK_GLOBAL: {
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two strings (module, name)');
          this.push(this.resolveGlobal(module, name));
          break;
        }
        case Op.EXT1:
        case Op.EXT2:
        case Op.EXT4:
          this.fail('pickle uses the copyreg extension registry (EXT opcodes), which this reader does not accept');
          break;
        case Op.REDUCE: {
          const args = this.pop();
          const f = this.pop();
          this.push(this.call(f, args));
          break;
        }
        case Op.NEWOBJ: {
          const args = this.pop();
          const cls = this.pop();
          this.push(this.call(cls, args));
          break;
        }
        case Op.NEWOBJ_EX: {
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          if (!(kwargs instanceof PyDict)) this.fail(`NEWOBJ_EX keyword arguments must be a dict, got ${describePyValue(kwargs)}`);
          this.push(this.call(cls, args, kwargs));
          break;
        }
        case Op.INST: {
          const module = this.line();
          const name = this.line();
          const cls = this.resolveGlobal(module, name);
          this.push(this.call(cls, makeTuple(this.popMark())));
          break;
        }
        case Op.OBJ: {
          const items = this.popMark();
          if (items.length === 0) this.fail('OBJ without a class');
          this.push(this.call(items[0], makeTuple(items.slice(1))));
          break;
        }
        case Op.BUILD: {
          const state = this.pop();
          this.build(this.top(), state);
          break;
        }
        case Op.PERSID:
          this.push(this.persistent(this.line()));
          break;
        case Op.BINPERSID:
          this.push(this.persistent(this.pop()));
          break;
        default:
          this.fail(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')}`);
      }
    }
  }

  private parseIntText(s: string): number | bigint {
    if (!/^[-+]?\d+$/.test(s.trim())) this.fail(`bad integer text '${s}'`);
    return normaliseInt(BigInt(s.trim()));
  }
  private parseMemoKey(s: string): number {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) this.fail(`bad memo key '${s}'`);
    return n;
  }
}

/** A resolved, allow-listed global waiting to be called. */
class BoundGlobal extends PyGlobalRef {
  constructor(
    qualifiedName: string,
    readonly handler: PyGlobalHandler,
  ) {
    super(qualifiedName);
  }
}

function inertHandler(qualifiedName: string): PyGlobalHandler {
  return {
    construct: (args, kwargs) => new PyObjectRecord(qualifiedName, args, kwargs),
    setState: (obj, state) => {
      (obj as PyObjectRecord).state = state;
    },
  };
}

/** Python string-literal escapes as protocol 0 writes them (\\n, \\xNN, \\uNNNN, \\', \\\\). */
function unescapePy(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[\\'"nrt0abfv])/g, (_m, e: string) => {
    switch (e[0]) {
      case 'x':
      case 'u':
      case 'U':
        return String.fromCodePoint(parseInt(e.slice(1), 16));
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case '0':
        return '\0';
      case 'a':
        return '\x07';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'v':
        return '\v';
      default:
        return e;
    }
  });
}
