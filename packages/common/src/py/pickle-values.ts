/**
 * JavaScript shapes of the Python values a pickle can hold, and helpers to turn them into plain data.
 *
 * dict -> PyDict (insertion-ordered Map), list -> array, tuple -> frozen array (PyTuple),
 * str -> string, bytes/bytearray -> Uint8Array, int -> number (bigint beyond 2^53), float -> number,
 * bool -> boolean, None -> null, set/frozenset -> Set.
 */

/** A Python dict (or OrderedDict): insertion order kept, keys compared like Map keys. */
export class PyDict extends Map<unknown, unknown> {
  /**
   * Attributes set by BUILD on a dict object (Python's `inst.__dict__.update(state)`), e.g. the
   * `_metadata` that `nn.Module.state_dict()` attaches to its OrderedDict.
   */
  attributes: Map<string, unknown> | undefined;
}

/** A Python tuple: a frozen array, so it can be told from a list (a mutable array). */
export type PyTuple = readonly unknown[];

export function makeTuple(items: unknown[]): PyTuple {
  return Object.freeze(items);
}

export function isPyTuple(v: unknown): v is PyTuple {
  return Array.isArray(v) && Object.isFrozen(v);
}

/**
 * An instance of a class outside the allow-list, kept as inert data (only when the caller asked
 * for that with `tolerateUnknown`). Nothing of the class runs: the record only remembers the
 * qualified name, the constructor arguments and the state BUILD gave it.
 */
export class PyObjectRecord {
  /** Items set with SETITEM(S) when the class is a dict subclass. */
  items: PyDict | undefined;
  /** Items appended with APPEND(S) when the class is a list subclass. */
  listItems: unknown[] | undefined;
  state: unknown = undefined;
  constructor(
    readonly __class__: string,
    readonly args: PyTuple,
    readonly kwargs?: PyDict,
  ) {}
}

/** A reference to a global (class or function) pushed by GLOBAL/STACK_GLOBAL, before it is called. */
export class PyGlobalRef {
  constructor(readonly qualifiedName: string) {}
  toJSON(): string {
    return this.qualifiedName;
  }
}

/** Python's plain-data view of a key: str stays, int/float/bool/None become their Python repr. */
function keyToString(k: unknown): string {
  if (typeof k === 'string') return k;
  if (k === null) return 'None';
  if (k === true) return 'True';
  if (k === false) return 'False';
  if (typeof k === 'number' || typeof k === 'bigint') return String(k);
  throw new Error(`dict key of type ${describePyValue(k)} cannot become a plain object key`);
}

/**
 * Converts unpickled data into plain JSON-like data: PyDict -> object (keys as strings), tuples and
 * sets -> arrays, records of unknown classes -> `{ __class__, args, state, items? }`, bigint kept.
 * Values that are not plain data (Uint8Array, typed arrays, class instances) are returned as they are.
 */
export function toPlainData(v: unknown): unknown {
  if (v instanceof PyDict) {
    const out: Record<string, unknown> = {};
    for (const [k, val] of v) out[keyToString(k)] = toPlainData(val);
    return out;
  }
  if (Array.isArray(v)) return v.map(toPlainData);
  if (v instanceof Set) return [...v].map(toPlainData);
  if (v instanceof PyObjectRecord) {
    const rec: Record<string, unknown> = { __class__: v.__class__, args: toPlainData(v.args), state: toPlainData(v.state ?? null) };
    if (v.kwargs) rec.kwargs = toPlainData(v.kwargs);
    if (v.items) rec.items = toPlainData(v.items);
    if (v.listItems) rec.listItems = toPlainData(v.listItems);
    return rec;
  }
  if (v instanceof PyGlobalRef) return { __global__: v.qualifiedName };
  return v;
}

/** A PyDict with str keys (e.g. Lightning's `hyper_parameters`) as a plain object, recursively. */
export function pyDictToObject(d: PyDict): Record<string, unknown> {
  return toPlainData(d) as Record<string, unknown>;
}

/** Short Python-like type name for error messages. */
export function describePyValue(v: unknown): string {
  if (v === null) return 'None';
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof PyDict) return 'dict';
  if (isPyTuple(v)) return `tuple of ${v.length}`;
  if (Array.isArray(v)) return 'list';
  if (v instanceof Set) return 'set';
  if (v instanceof PyObjectRecord) return `${v.__class__} object`;
  if (v instanceof PyGlobalRef) return `global ${v.qualifiedName}`;
  return (v as object).constructor?.name ?? typeof v;
}
