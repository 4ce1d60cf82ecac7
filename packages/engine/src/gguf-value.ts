/**
 * Typed GGUF metadata values. GGUF stores a type tag with every value, so the writer needs to know
 * the exact type; these constructors keep call sites short (`gguf.u32(64)`, `gguf.strings([...])`).
 */
export const GGUF_VALUE_TYPES = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;

export type GgufScalarType = Exclude<keyof typeof GGUF_VALUE_TYPES, "array">;

/** A scalar or an array of one scalar type. 64-bit integers are bigints. */
export type GgufValue =
  | { type: "string"; value: string }
  | { type: "bool"; value: boolean }
  | { type: "uint64" | "int64"; value: bigint }
  | { type: Exclude<GgufScalarType, "string" | "bool" | "uint64" | "int64">; value: number }
  | { type: "array"; itemType: GgufScalarType; value: readonly (string | number | bigint | boolean)[] };

export const gguf = {
  str: (value: string): GgufValue => ({ type: "string", value }),
  u32: (value: number): GgufValue => ({ type: "uint32", value }),
  i32: (value: number): GgufValue => ({ type: "int32", value }),
  f32: (value: number): GgufValue => ({ type: "float32", value }),
  bool: (value: boolean): GgufValue => ({ type: "bool", value }),
  strings: (value: readonly string[]): GgufValue => ({ type: "array", itemType: "string", value }),
  i32s: (value: readonly number[]): GgufValue => ({ type: "array", itemType: "int32", value }),
  f32s: (value: readonly number[]): GgufValue => ({ type: "array", itemType: "float32", value }),
};

export function ggufValueTypeName(id: number): keyof typeof GGUF_VALUE_TYPES | undefined {
  for (const [name, value] of Object.entries(GGUF_VALUE_TYPES)) {
    if (value === id) return name as keyof typeof GGUF_VALUE_TYPES;
  }
  return undefined;
}
