/**
 * The syntax tree of a template. Every node keeps `pos`, the offset in the template source of the
 * text it came from, so runtime errors can name a line and column.
 */

export interface CallArg {
  /** Set for a named argument (`date(format='yyyy', timeZone='UTC')`). */
  name?: string;
  value: Expr;
}

export type Expr =
  | { k: "lit"; pos: number; value: unknown }
  | { k: "name"; pos: number; name: string }
  /** `obj.key` / `obj['key']` / `obj[0]`; `start` is where the access chain begins, `end` where this access ends. */
  | { k: "member"; pos: number; start: number; end: number; obj: Expr; key: Expr }
  | { k: "call"; pos: number; name: string; args: CallArg[] }
  | { k: "list"; pos: number; items: Expr[] }
  | { k: "map"; pos: number; entries: Array<[Expr, Expr]> }
  | { k: "unary"; pos: number; op: "not" | "-" | "+"; operand: Expr }
  | { k: "binary"; pos: number; op: string; left: Expr; right: Expr }
  | { k: "filter"; pos: number; input: Expr; name: string; args: CallArg[] }
  | { k: "test"; pos: number; input: Expr; name: string; args: CallArg[]; negate: boolean }
  | { k: "ternary"; pos: number; cond: Expr; then: Expr; otherwise: Expr }
  /** `??` (null or undefined → right) and `???` (undefined only → right). */
  | { k: "coalesce"; pos: number; undefinedOnly: boolean; left: Expr; right: Expr }
  /** A double-quoted string with `#{…}` interpolations. */
  | { k: "interp"; pos: number; parts: Array<string | Expr> };

export type Node =
  | { k: "text"; text: string }
  | { k: "print"; pos: number; expr: Expr }
  | { k: "if"; pos: number; branches: Array<{ cond: Expr; body: Node[] }>; otherwise: Node[] | undefined }
  | { k: "for"; pos: number; keyVar: string | undefined; valueVar: string; iterable: Expr; body: Node[]; otherwise: Node[] | undefined }
  | { k: "set"; pos: number; name: string; expr: Expr };

/** A parsed template, cached by its source string. */
export interface CompiledTemplate {
  readonly source: string;
  readonly nodes: Node[];
}
