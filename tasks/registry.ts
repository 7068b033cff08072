import type { TaskDefinition } from "./types.js";
import { flowableDefinitions } from "./flowable/index.js";
import { runnableDefinitions } from "./runnable/index.js";

/** Resolves any accepted type name (canonical, alias, short) to its definition. */
export class TaskRegistry {
  private readonly byName = new Map<string, TaskDefinition>();

  constructor(definitions: TaskDefinition[]) {
    for (const def of definitions) {
      for (const name of def.types) {
        if (this.byName.has(name)) throw new Error(`task type ${name} registered twice`);
        this.byName.set(name, def);
      }
    }
  }

  /** The definition for a type name, or undefined when the name is unknown. */
  resolve(type: string): TaskDefinition | undefined {
    return this.byName.get(type);
  }

  /** The canonical name for any accepted type name, or undefined when unknown. */
  canonical(type: string): string | undefined {
    return this.byName.get(type)?.types[0];
  }

  /** Every accepted type name, for error messages and the JSON schema. */
  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  /** Registers one more type (plugins); names must not collide. */
  register(def: TaskDefinition): void {
    for (const name of def.types) {
      if (this.byName.has(name)) throw new Error(`task type ${name} registered twice`);
      this.byName.set(name, def);
    }
  }
}

export const registry = new TaskRegistry([...flowableDefinitions, ...runnableDefinitions]);
