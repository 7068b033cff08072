import { MemoryStateStore } from "../../stores/memory-state-store.js";
import { stateStoreContract } from "./state-store.contract.js";

stateStoreContract("memory", { create: async (name, partition) => new MemoryStateStore(name, partition) });
