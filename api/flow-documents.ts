/**
 * Multi-document YAML (`---` between flows) for validate and bulk import/export. Each document
 * keeps its first line in the whole text, so an error points at the line:column a person sees.
 */
import { parseFlow } from "../schemas/flow-parser.js";
import type { ApiIssue } from "./http-errors.js";

/** One document of a multi-document YAML text. */
export interface YamlDocument {
  index: number;
  /** 1-based line of the document's first line in the whole text. */
  firstLine: number;
  source: string;
}

/** Splits on `---` separator lines; empty documents are skipped. */
export function splitDocuments(text: string): YamlDocument[] {
  const lines = text.split(/\r?\n/);
  const docs: YamlDocument[] = [];
  let start = 0;
  const flush = (end: number) => {
    const part = lines.slice(start, end);
    // Trailing blank lines belong to no flow: the same flow imported twice keeps its revision.
    while (part.length > 0 && part[part.length - 1].trim() === "") part.pop();
    // Blank or comment-only documents (a leading `---`, a trailing one) hold no flow.
    if (part.every((l) => /^\s*(#.*)?$/.test(l))) return;
    docs.push({ index: docs.length, firstLine: start + 1, source: `${part.join("\n")}\n` });
  };
  for (let i = 0; i < lines.length; i++) {
    if (/^(---|\.\.\.)\s*$/.test(lines[i])) {
      flush(i);
      start = i + 1;
    }
  }
  flush(lines.length);
  return docs;
}

/** The outcome of validating one document. */
export interface DocumentCheck {
  index: number;
  valid: boolean;
  namespace?: string;
  id?: string;
  errors: ApiIssue[];
}

/** Validates every flow of a (multi-document) YAML text without saving anything. */
export function validateDocuments(text: string): DocumentCheck[] {
  const docs = splitDocuments(text);
  if (docs.length === 0) {
    return [{ index: 0, valid: false, errors: [{ path: "", line: 1, column: 1, message: "no flow in the text", code: "EMPTY" }] }];
  }
  return docs.map((d) => {
    const parsed = parseFlow(d.source);
    if (parsed.ok) return { index: d.index, valid: true, namespace: parsed.flow.namespace, id: parsed.flow.id, errors: [] };
    const errors = parsed.errors.map((e) => ({ path: e.path, line: e.line + d.firstLine - 1, column: e.column, message: e.message, code: e.code }));
    return { index: d.index, valid: false, errors };
  });
}
