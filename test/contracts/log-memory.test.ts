import { MemoryLog } from "../../topology/memory/memory-log.js";
import { logContract } from "./log.contract.js";

logContract("memory", { open: async () => new MemoryLog(), commitsInOrder: true });
