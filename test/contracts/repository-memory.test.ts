import { MemoryRepository } from "../../projections/memory/memory-repository.js";
import { repositoryContract } from "./repository.contract.js";

repositoryContract("memory", { open: async () => new MemoryRepository() });
